import type { PermissionsContext } from 'workers-spawner/plugin'

/**
 * Every tool call asks first: a `PreToolUse` hook in Codex's system hooks file runs `orchestrator
 * permit` (exit 0 allow; 2 deny, the reason on stderr, which Codex hands the model as "Command
 * blocked by PreToolUse hook: <reason>"). It fires with approvals and sandbox bypassed too. The
 * requirements file (what a user's config cannot change) pins the hooks feature on: the user's
 * `[features] codex_hooks = false` would switch it off. Codex runs the tool when a hook fails
 * otherwise than with exit 2, or outlives its `timeout` (seconds): `|| exit 2` denies on any
 * failure of the hook, and the timeout is past the request's own deadline and `orchestrator
 * permit`'s wait for a restarting service.
 */
export const permissions = (ctx: PermissionsContext) => ({
  files: {
    '/etc/codex/hooks.json': {
      hooks: {
        PreToolUse: [
          {
            matcher: '.*',
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
    '/etc/codex/requirements.toml': '[features]\ncodex_hooks = true\n',
  },
})
