import { defineCapability } from 'workers-spawner/plugin'

/**
 * Docker inside the worker. Only through the sysbox runtime, which isolates the inner engine
 * without a privileged container; an engine without sysbox-runc refuses the create.
 */
export default defineCapability({
  apiVersion: 'v1',
  name: 'docker',
  version: '1.0.0',
  description: 'Docker Engine inside the worker (needs the sysbox-runc runtime on the host)',
  install: [{ apt: ['docker.io'] }, { run: 'usermod -aG docker worker' }],
  env: () => ({ DOCKER_HOST: 'unix:///var/run/docker.sock' }),
  container: () => ({ runtime: 'sysbox-runc' }),
})
