import { defineCapability } from 'workers-spawner/plugin'

/** git with LFS and an SSH client; never prompts for credentials. */
export default defineCapability({
  apiVersion: 'v1',
  name: 'git',
  version: '1.0.0',
  description: 'git, git-lfs and an SSH client; non-interactive',
  install: [{ apt: ['git', 'git-lfs', 'openssh-client'] }],
  secrets: [
    { name: 'GIT_AUTHOR_NAME', description: 'commit author name' },
    { name: 'GIT_AUTHOR_EMAIL', description: 'commit author e-mail' },
    { name: 'GH_TOKEN', description: 'GitHub token for the gh CLI and HTTPS remotes' },
  ],
  env: (ctx) => ({
    GIT_TERMINAL_PROMPT: '0',
    GIT_COMMITTER_NAME: ctx.hostEnv.GIT_AUTHOR_NAME ?? 'workers-spawner',
    GIT_COMMITTER_EMAIL: ctx.hostEnv.GIT_AUTHOR_EMAIL ?? 'worker@workers-spawner.local',
  }),
})
