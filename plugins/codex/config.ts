/** The OpenAI API, where calls go when the spawner names no other `OPENAI_BASE_URL`. */
export const OPENAI = 'https://api.openai.com/v1'

/**
 * `~/.codex/config.toml` for the worker: one Responses API provider (`OPENAI_BASE_URL`, or the
 * OpenAI API; Codex refuses the chat completions wire API), keyed by `OPENAI_API_KEY` when there
 * is one (with `env_key` set and the variable unset every turn fails, so a keyless gateway gets
 * none; the key's value never goes into the file), the model (`CODEX_MODEL`) when set, no
 * approvals, no sandbox of Codex's own (it needs user namespaces, which a worker without
 * capabilities lacks; the container is the sandbox), and no analytics or plugin/app lookups.
 * Values are TOML basic strings, which accept JSON's escapes.
 */
export const codexConfig = ({ setting }: { setting: (name: string) => string | undefined }) => {
  const [baseUrl, model] = [setting('OPENAI_BASE_URL'), setting('CODEX_MODEL')]
  return `model_provider = "custom"
${model ? `model = ${JSON.stringify(model)}\n` : ''}approval_policy = "never"
sandbox_mode = "danger-full-access"
analytics.enabled = false

[model_providers.custom]
name = ${JSON.stringify(baseUrl ? 'OpenAI-compatible' : 'OpenAI')}
base_url = ${JSON.stringify(baseUrl || OPENAI)}
${setting('OPENAI_API_KEY') ? 'env_key = "OPENAI_API_KEY"\n' : ''}wire_api = "responses"

[features]
plugins = false
remote_plugin = false
apps = false
`
}
