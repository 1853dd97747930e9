import { readFileSync } from 'node:fs'

/**
 * claude's stdout, as recorded in `recordings/<name>.jsonl`, for the tests. All are real output
 * of claude 2.1.332 in a worker of the service, its bytes as they came; only the long lists of
 * the `init` line (tools, commands, agents, skills, plugins, capabilities) are cut to two
 * entries. `*-streamed` ran with `--include-partial-messages` (a prompt sent with
 * `Accept: text/event-stream`), the others without.
 *
 * Against the project's stub model (test/support/stub-model/anthropic.ts):
 * - `text`, `text-resumed` (`--resume` of the first), `text-streamed`: "What is 5 + 7?" and
 *   the like, answered in one text delta;
 * - `api-error`: the model endpoint refused the connection;
 * - `unknown-session`: `--resume` of a session that does not exist;
 * - `json-mode`: `--output-format json`, the single result object.
 *
 * Against a stub scripted like it but answering, turn by turn, with the blocks a real model
 * sends (thinking, text in two deltas, tool_use with its input in two `input_json_delta`s):
 * - `text-deltas-streamed`: a sum, its answer in two deltas;
 * - `tools`, `tools-streamed`: thinking, text and `Bash ls`; `TodoWrite` (which this model
 *   does not have: refused); `Write`, `Read`, `Edit` of a file; text with `Grep` and `Glob`
 *   (neither in this session: refused); `Bash` that exits 3; `Read` of a missing file; an
 *   `Agent` whose sub-agent runs `Bash`; then the answer;
 * - `max-turns`: the same, run as `claude -p … --max-turns 2` from a shell command;
 * - `max-tokens-streamed`: every answer stops with `max_tokens` (claude asks three more times);
 * - `refusal-streamed`: every answer stops with `refusal`;
 * - `tasks` (`ANTHROPIC_MODEL=claude-sonnet-4-5`, which has the task tools): `TaskCreate` ×2,
 *   `TaskUpdate`, `TaskList`, `TaskUpdate`, `TodoWrite` (refused), then the answer;
 * - `todo`: the same with `CLAUDE_CODE_ENABLE_TASKS=false`, where `TodoWrite` is the todo tool
 *   and the task tools are refused.
 */
export const recording = (name: string): string =>
  readFileSync(new URL(`./recordings/${name}.jsonl`, import.meta.url), 'utf8')
