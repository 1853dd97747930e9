import type { PermissionsContext, PermissionsSetup } from 'workers-spawner/plugin'

/**
 * How Claude Code asks before a tool call: a PreToolUse hook for every tool in its managed
 * settings, which the core writes as root (the agent cannot change or drop it; user settings
 * cannot turn managed hooks off, and they fire with permissions skipped too). The hook runs the
 * core's command line, which no environment the agent sets (settings `env`, PATH) redirects.
 */
export const permissions = (ctx: PermissionsContext): PermissionsSetup => ({
  files: {
    '/etc/claude-code/managed-settings.json': {
      hooks: {
        PreToolUse: [
          {
            matcher: '*',
            hooks: [
              {
                type: 'command',
                // Any exit but 2 lets Claude Code run the tool: a permit that dies denies.
                command: `${ctx.permitCommand('claude')} || exit 2`,
                // Past it Claude Code would give up on the hook: the request's own deadline
                // (and the CLI's wait for a restarting service) comes first.
                timeout: Math.ceil(ctx.timeoutMs / 1000) + 660,
              },
            ],
          },
        ],
      },
    },
  },
})
