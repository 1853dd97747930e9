import type { PermissionsContext } from 'workers-spawner/plugin'

/** droid's managed settings on Linux: over the user's and the project's, root-owned here. */
export const MANAGED_SETTINGS = '/etc/factory/settings.json'

/**
 * Every tool call asks first: a `PreToolUse` hook in the managed settings runs `orchestrator
 * permit` (exit 0 allow; 2 deny, the reason on stderr, which droid hands the model as the tool's
 * error). It fires with `--skip-permissions-unsafe` too. `hooksDisabled: false` there wins over a
 * user's or project's `true` (which would switch every hook off), and `allowManagedHooksOnly`
 * keeps hooks of the agent's own out. droid gives up on a hook after `timeout` seconds: the
 * request's own deadline, and `orchestrator permit`'s wait for a restarting service, come first.
 */
export const permissions = (ctx: PermissionsContext) => ({
  files: {
    [MANAGED_SETTINGS]: {
      allowManagedHooksOnly: true,
      hooks: {
        hooksDisabled: false,
        PreToolUse: [
          {
            matcher: '*',
            hooks: [
              {
                type: 'command',
                command: `${ctx.permitCommand('exit-code')} || exit 2`,
                timeout: Math.ceil(ctx.timeoutMs / 1000) + 660,
              },
            ],
          },
        ],
      },
    },
  },
})
