import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  agentPrompt,
  agentReply,
  createContext,
  pluginInstallSteps,
  type ExecOutcome,
  type PluginContext,
  type PromptRequest,
} from 'workers-spawner/plugin'
import plugin, { CLAUDE_CODE_VERSION } from './index.ts'

// The plugin's hooks, called as the core calls them.
const parseClaudeOutput = (out: ExecOutcome) => agentReply(plugin, out)
const command = (req: PromptRequest) => agentPrompt(plugin, req)

// Output of claude 2.1.332 against the stub model (test/support/stub-model/anthropic.ts),
// captured as is; only the long lists of the `init` line (tools, commands, skills) are cut to
// two entries. Lines are kept whole, wider than 100 columns, so they stay the CLI's bytes.

const FIRST = String.raw`
{"type":"system","subtype":"init","cwd":"/workspace","session_id":"6e9bfe62-bc71-4e20-8f6c-a82772828eb9","tools":["Task","Bash"],"mcp_servers":[],"model":"claude-opus-5-5","permissionMode":"bypassPermissions","slash_commands":["deep-research","dataviz"],"terminal_slash_commands":["doctor","color"],"apiKeySource":"ANTHROPIC_API_KEY","claude_code_version":"2.1.332","output_style":"default","agents":["claude","Explore"],"skills":["deep-research","dataviz"],"plugins":[{"name":"cc-plugin-agents-md","path":"builtin","source":"cc-plugin-agents-md@builtin"},{"name":"cc-plugin-privacy","path":"builtin","source":"cc-plugin-privacy@builtin"}],"capabilities":["interrupt_receipt_v1","interrupt_cancel_queued_v1"],"analytics_disabled":true,"product_feedback_disabled":true,"served_by_anthropic":false,"uuid":"6d2ad281-d840-4bc4-94fa-c9d33b122570","sandbox_enabled":false,"memory_paths":{"auto":"/home/worker/.claude/projects/-workspace/memory/"},"original_cwd":"/workspace","additional_directories":[],"messaging_socket_path":"/tmp/cc-socks/300.sock","fast_mode_state":"off","fast_mode_disabled_reason":"sdk_opt_in_required","per_turn_effort_active":true,"ultrathink_available":false,"ultrathink_typed_raises":false,"view_mode":"default"}
{"type":"assistant","message":{"id":"msg_stub_13","type":"message","role":"assistant","model":"claude-opus-5-5","content":[{"type":"text","text":"12"}],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1},"context_management":null},"parent_tool_use_id":null,"session_id":"6e9bfe62-bc71-4e20-8f6c-a82772828eb9","uuid":"6e8fc5a4-4b3b-47fa-9de7-7277d7137bf3","timestamp":"2026-11-26T23:39:06.579Z"}
{"duration_api_ms":17,"stop_reason":"end_turn","session_id":"6e9bfe62-bc71-4e20-8f6c-a82772828eb9","total_cost_usd":0.000108,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3,"output_tokens_details":{"thinking_tokens":0},"server_tool_use":{"web_search_requests":0,"web_fetch_requests":0},"service_tier":"standard","cache_creation":{"ephemeral_1h_input_tokens":0,"ephemeral_5m_input_tokens":0},"inference_geo":"","iterations":[],"speed":"standard","fallback_credit":null},"modelUsage":{"claude-opus-5-5":{"inputTokens":12,"outputTokens":3,"cacheReadInputTokens":0,"cacheCreationInputTokens":0,"webSearchRequests":0,"costUSD":0.000108,"contextWindow":1000000,"maxOutputTokens":128000,"thinkingTokens":0,"cacheCreationEphemeral5mInputTokens":0,"cacheCreationEphemeral1hInputTokens":0,"canonicalModel":"claude-opus-5-5","provider":"firstParty","costBasis":"list"}},"permission_denials":[],"terminal_reason":"completed","fast_mode_state":"off","fast_mode_disabled_reason":"sdk_opt_in_required","subagent_stats":{"spawned":0,"requested":{"background":0,"foreground":0,"unset":0},"started_in_background":0,"max_depth":0,"spawned_by_subagents":0,"completed":0,"failed":0,"killed":{"parent":0,"user":0,"system":0},"refused":{"depth_limit":0,"concurrency_limit":0,"budget":0},"by_type":{}},"safety_stops":0,"is_error":false,"num_turns":1,"subtype":"success","api_error_status":null,"result":"12","ttft_ms":67,"type":"result","duration_ms":75,"uuid":"59512153-88f7-42be-8412-0df728b5c54e","ttft_stream_ms":67,"time_to_request_ms":59,"first_content_frame_ms":67,"queued_turn_count":0,"result_index":0,"model_usage_since_last_result":{"claude-opus-5-5":{"inputTokens":12,"outputTokens":3,"cacheReadInputTokens":0,"cacheCreationInputTokens":0,"webSearchRequests":0,"costUSD":0.000108,"contextWindow":1000000,"maxOutputTokens":128000,"thinkingTokens":0,"cacheCreationEphemeral5mInputTokens":0,"cacheCreationEphemeral1hInputTokens":0,"canonicalModel":"claude-opus-5-5","provider":"firstParty","costBasis":"list"}}}
`

const SECOND = String.raw`
{"type":"system","subtype":"init","cwd":"/workspace","session_id":"6e9bfe62-bc71-4e20-8f6c-a82772828eb9","tools":["Task","Bash"],"mcp_servers":[],"model":"claude-opus-5-5","permissionMode":"bypassPermissions","slash_commands":["deep-research","dataviz"],"terminal_slash_commands":["doctor","color"],"apiKeySource":"ANTHROPIC_API_KEY","claude_code_version":"2.1.332","output_style":"default","agents":["claude","Explore"],"skills":["deep-research","dataviz"],"plugins":[{"name":"cc-plugin-agents-md","path":"builtin","source":"cc-plugin-agents-md@builtin"},{"name":"cc-plugin-privacy","path":"builtin","source":"cc-plugin-privacy@builtin"}],"capabilities":["interrupt_receipt_v1","interrupt_cancel_queued_v1"],"analytics_disabled":true,"product_feedback_disabled":true,"served_by_anthropic":false,"uuid":"91d3f9b5-db31-4775-a6bb-4d9027149c25","sandbox_enabled":false,"memory_paths":{"auto":"/home/worker/.claude/projects/-workspace/memory/"},"original_cwd":"/workspace","additional_directories":[],"messaging_socket_path":"/tmp/cc-socks/313.sock","fast_mode_state":"off","fast_mode_disabled_reason":"sdk_opt_in_required","per_turn_effort_active":true,"ultrathink_available":false,"ultrathink_typed_raises":false,"view_mode":"default"}
{"type":"assistant","message":{"id":"msg_stub_14","type":"message","role":"assistant","model":"claude-opus-5-5","content":[{"type":"text","text":"3"}],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1},"context_management":null},"parent_tool_use_id":null,"session_id":"6e9bfe62-bc71-4e20-8f6c-a82772828eb9","uuid":"a937d2f1-6f97-4517-92dc-9e7b4b5955e5","timestamp":"2026-11-26T23:39:07.082Z"}
{"duration_api_ms":35,"stop_reason":"end_turn","session_id":"6e9bfe62-bc71-4e20-8f6c-a82772828eb9","total_cost_usd":0.000216,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3,"output_tokens_details":{"thinking_tokens":0},"server_tool_use":{"web_search_requests":0,"web_fetch_requests":0},"service_tier":"standard","cache_creation":{"ephemeral_1h_input_tokens":0,"ephemeral_5m_input_tokens":0},"inference_geo":"","iterations":[],"speed":"standard","fallback_credit":null},"modelUsage":{"claude-opus-5-5":{"inputTokens":24,"outputTokens":6,"thinkingTokens":0,"cacheReadInputTokens":0,"cacheCreationInputTokens":0,"cacheCreationEphemeral5mInputTokens":0,"cacheCreationEphemeral1hInputTokens":0,"webSearchRequests":0,"costUSD":0.000216,"contextWindow":1000000,"maxOutputTokens":128000,"canonicalModel":"claude-opus-5-5","provider":"firstParty","costBasis":"list"}},"permission_denials":[],"terminal_reason":"completed","fast_mode_state":"off","fast_mode_disabled_reason":"sdk_opt_in_required","subagent_stats":{"spawned":0,"requested":{"background":0,"foreground":0,"unset":0},"started_in_background":0,"max_depth":0,"spawned_by_subagents":0,"completed":0,"failed":0,"killed":{"parent":0,"user":0,"system":0},"refused":{"depth_limit":0,"concurrency_limit":0,"budget":0},"by_type":{}},"safety_stops":0,"is_error":false,"num_turns":1,"subtype":"success","api_error_status":null,"result":"3","ttft_ms":69,"type":"result","duration_ms":76,"uuid":"7ebc6aca-742d-40bc-99b3-23173a6b245e","ttft_stream_ms":68,"time_to_request_ms":59,"first_content_frame_ms":68,"queued_turn_count":0,"result_index":0,"model_usage_since_last_result":{"claude-opus-5-5":{"inputTokens":12,"outputTokens":3,"cacheReadInputTokens":0,"cacheCreationInputTokens":0,"webSearchRequests":0,"costUSD":0.000108,"contextWindow":1000000,"maxOutputTokens":128000,"thinkingTokens":0,"cacheCreationEphemeral5mInputTokens":0,"cacheCreationEphemeral1hInputTokens":0,"canonicalModel":"claude-opus-5-5","provider":"firstParty","costBasis":"list"}}}
`

const PARTIAL = String.raw`
{"type":"system","subtype":"init","cwd":"/workspace","session_id":"c90afbf2-cfef-4bfa-878d-5e8ab33ac78c","tools":["Task","Bash"],"mcp_servers":[],"model":"claude-opus-5-5","permissionMode":"bypassPermissions","slash_commands":["deep-research","dataviz"],"terminal_slash_commands":["doctor","color"],"apiKeySource":"ANTHROPIC_API_KEY","claude_code_version":"2.1.332","output_style":"default","agents":["claude","Explore"],"skills":["deep-research","dataviz"],"plugins":[{"name":"cc-plugin-agents-md","path":"builtin","source":"cc-plugin-agents-md@builtin"},{"name":"cc-plugin-privacy","path":"builtin","source":"cc-plugin-privacy@builtin"}],"capabilities":["interrupt_receipt_v1","interrupt_cancel_queued_v1"],"analytics_disabled":true,"product_feedback_disabled":true,"served_by_anthropic":false,"uuid":"89a973bc-841c-43b2-b23f-b3bba48a4563","sandbox_enabled":false,"memory_paths":{"auto":"/home/worker/.claude/projects/-workspace/memory/"},"original_cwd":"/workspace","additional_directories":[],"messaging_socket_path":"/tmp/cc-socks/327.sock","fast_mode_state":"off","fast_mode_disabled_reason":"sdk_opt_in_required","per_turn_effort_active":true,"ultrathink_available":false,"ultrathink_typed_raises":false,"view_mode":"default"}
{"type":"system","subtype":"status","status":"requesting","session_id":"c90afbf2-cfef-4bfa-878d-5e8ab33ac78c","uuid":"9e13a448-15ec-4a9a-9305-ac768b3521b5"}
{"type":"stream_event","event":{"type":"message_start","message":{"id":"msg_stub_15","type":"message","role":"assistant","model":"claude-opus-5-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}},"session_id":"c90afbf2-cfef-4bfa-878d-5e8ab33ac78c","parent_tool_use_id":null,"uuid":"98b95dda-f219-433c-9ad6-5bbada076a7c","ttft_ms":12,"thinking_display":"updates","api_message_id":"msg_stub_15"}
{"type":"stream_event","event":{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}},"session_id":"c90afbf2-cfef-4bfa-878d-5e8ab33ac78c","parent_tool_use_id":null,"uuid":"8738c5fa-8603-435f-b7fd-e8e3cd896f5c","api_message_id":"msg_stub_15"}
{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"42"}},"session_id":"c90afbf2-cfef-4bfa-878d-5e8ab33ac78c","parent_tool_use_id":null,"uuid":"649de0a1-2254-40ab-b5c2-0a708e9f9402","api_message_id":"msg_stub_15"}
{"type":"assistant","message":{"id":"msg_stub_15","type":"message","role":"assistant","model":"claude-opus-5-5","content":[{"type":"text","text":"42"}],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1},"context_management":null},"parent_tool_use_id":null,"session_id":"c90afbf2-cfef-4bfa-878d-5e8ab33ac78c","uuid":"4fe8efdc-9f8c-43a2-a6d8-4946548e87c1","timestamp":"2026-11-26T23:39:07.508Z"}
{"type":"stream_event","event":{"type":"content_block_stop","index":0},"session_id":"c90afbf2-cfef-4bfa-878d-5e8ab33ac78c","parent_tool_use_id":null,"uuid":"9502418d-6f64-465a-b365-747cb94f3ca5","api_message_id":"msg_stub_15"}
{"type":"stream_event","event":{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":3}},"session_id":"c90afbf2-cfef-4bfa-878d-5e8ab33ac78c","parent_tool_use_id":null,"uuid":"cc6bffec-40e7-431f-aef9-1bb3c907c5c2","api_message_id":"msg_stub_15"}
{"type":"stream_event","event":{"type":"message_stop"},"session_id":"c90afbf2-cfef-4bfa-878d-5e8ab33ac78c","parent_tool_use_id":null,"uuid":"befd2cc0-0625-4fd3-96b0-933aecb9547f","api_message_id":"msg_stub_15"}
{"duration_api_ms":23,"stop_reason":"end_turn","session_id":"c90afbf2-cfef-4bfa-878d-5e8ab33ac78c","total_cost_usd":0.000108,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3,"output_tokens_details":{"thinking_tokens":0},"server_tool_use":{"web_search_requests":0,"web_fetch_requests":0},"service_tier":"standard","cache_creation":{"ephemeral_1h_input_tokens":0,"ephemeral_5m_input_tokens":0},"inference_geo":"","iterations":[],"speed":"standard","fallback_credit":null},"modelUsage":{"claude-opus-5-5":{"inputTokens":12,"outputTokens":3,"cacheReadInputTokens":0,"cacheCreationInputTokens":0,"webSearchRequests":0,"costUSD":0.000108,"contextWindow":1000000,"maxOutputTokens":128000,"thinkingTokens":0,"cacheCreationEphemeral5mInputTokens":0,"cacheCreationEphemeral1hInputTokens":0,"canonicalModel":"claude-opus-5-5","provider":"firstParty","costBasis":"list"}},"permission_denials":[],"terminal_reason":"completed","fast_mode_state":"off","fast_mode_disabled_reason":"sdk_opt_in_required","subagent_stats":{"spawned":0,"requested":{"background":0,"foreground":0,"unset":0},"started_in_background":0,"max_depth":0,"spawned_by_subagents":0,"completed":0,"failed":0,"killed":{"parent":0,"user":0,"system":0},"refused":{"depth_limit":0,"concurrency_limit":0,"budget":0},"by_type":{}},"safety_stops":0,"is_error":false,"num_turns":1,"subtype":"success","api_error_status":null,"result":"42","ttft_ms":98,"type":"result","duration_ms":109,"uuid":"aa10544c-c3f7-4f88-902a-a717a3c4b06f","begun_message_ids":["msg_stub_15"],"ttft_stream_ms":97,"time_to_request_ms":88,"first_content_frame_ms":97,"queued_turn_count":0,"result_index":0,"model_usage_since_last_result":{"claude-opus-5-5":{"inputTokens":12,"outputTokens":3,"cacheReadInputTokens":0,"cacheCreationInputTokens":0,"webSearchRequests":0,"costUSD":0.000108,"contextWindow":1000000,"maxOutputTokens":128000,"thinkingTokens":0,"cacheCreationEphemeral5mInputTokens":0,"cacheCreationEphemeral1hInputTokens":0,"canonicalModel":"claude-opus-5-5","provider":"firstParty","costBasis":"list"}}}
`

const REFUSED = String.raw`
{"type":"system","subtype":"init","cwd":"/workspace","session_id":"a5beda0e-53f4-44b0-abcd-eebdb6d37089","tools":["Task","Bash"],"mcp_servers":[],"model":"claude-opus-5-5","permissionMode":"bypassPermissions","slash_commands":["deep-research","dataviz"],"terminal_slash_commands":["doctor","color"],"apiKeySource":"ANTHROPIC_API_KEY","claude_code_version":"2.1.332","output_style":"default","agents":["claude","Explore"],"skills":["deep-research","dataviz"],"plugins":[{"name":"cc-plugin-agents-md","path":"builtin","source":"cc-plugin-agents-md@builtin"},{"name":"cc-plugin-privacy","path":"builtin","source":"cc-plugin-privacy@builtin"}],"capabilities":["interrupt_receipt_v1","interrupt_cancel_queued_v1"],"analytics_disabled":true,"product_feedback_disabled":true,"served_by_anthropic":false,"uuid":"7e8db9bb-cdcf-4fd6-a1e5-7a5b87ce979b","sandbox_enabled":false,"memory_paths":{"auto":"/home/worker/.claude/projects/-workspace/memory/"},"original_cwd":"/workspace","additional_directories":[],"messaging_socket_path":"/tmp/cc-socks/355.sock","fast_mode_state":"off","fast_mode_disabled_reason":"sdk_opt_in_required","per_turn_effort_active":true,"ultrathink_available":false,"ultrathink_typed_raises":false,"view_mode":"default"}
{"type":"assistant","message":{"diagnostics":null,"id":"cd80013a-d308-4620-a923-f846b1f2331b","container":null,"model":"<synthetic>","role":"assistant","stop_details":null,"stop_reason":"stop_sequence","stop_sequence":"","type":"message","usage":{"output_tokens_details":null,"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"server_tool_use":{"web_search_requests":0,"web_fetch_requests":0},"service_tier":null,"cache_creation":{"ephemeral_1h_input_tokens":0,"ephemeral_5m_input_tokens":0},"inference_geo":null,"iterations":null,"speed":null,"fallback_credit":null},"content":[{"type":"text","text":"API Error: Connection refused — a firewall or proxy may be blocking it (ECONNREFUSED)"}],"context_management":null},"parent_tool_use_id":null,"session_id":"a5beda0e-53f4-44b0-abcd-eebdb6d37089","uuid":"4b37b074-8ba0-4d47-bfa9-bb831269f59b","timestamp":"2026-11-26T23:39:08.395Z","error":"server_error","is_api_error_message":true,"api_error":"connection_failed"}
{"duration_api_ms":0,"stop_reason":"stop_sequence","session_id":"a5beda0e-53f4-44b0-abcd-eebdb6d37089","total_cost_usd":0,"usage":{"output_tokens_details":{"thinking_tokens":0},"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0,"server_tool_use":{"web_search_requests":0,"web_fetch_requests":0},"service_tier":"standard","cache_creation":{"ephemeral_1h_input_tokens":0,"ephemeral_5m_input_tokens":0},"inference_geo":"","iterations":[],"speed":"standard","fallback_credit":null},"modelUsage":{},"permission_denials":[],"terminal_reason":"api_error","fast_mode_state":"off","fast_mode_disabled_reason":"sdk_opt_in_required","subagent_stats":{"spawned":0,"requested":{"background":0,"foreground":0,"unset":0},"started_in_background":0,"max_depth":0,"spawned_by_subagents":0,"completed":0,"failed":0,"killed":{"parent":0,"user":0,"system":0},"refused":{"depth_limit":0,"concurrency_limit":0,"budget":0},"by_type":{}},"safety_stops":0,"is_error":true,"num_turns":1,"subtype":"success","api_error_status":null,"api_error":"connection_failed","result":"API Error: Connection refused — a firewall or proxy may be blocking it (ECONNREFUSED)","type":"result","duration_ms":89,"uuid":"f1320c0f-920f-411c-9628-f11e1670ceaa","queued_turn_count":0,"result_index":0,"model_usage_since_last_result":{}}
`

const NOCONV = String.raw`
{"type":"result","subtype":"error_during_execution","duration_ms":0,"duration_api_ms":0,"is_error":true,"num_turns":0,"stop_reason":null,"session_id":"00000000-0000-0000-0000-000000000000","total_cost_usd":0,"usage":{"output_tokens_details":{"thinking_tokens":0},"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0,"server_tool_use":{"web_search_requests":0,"web_fetch_requests":0},"service_tier":"standard","cache_creation":{"ephemeral_1h_input_tokens":0,"ephemeral_5m_input_tokens":0},"inference_geo":"","iterations":[],"speed":"standard","fallback_credit":null},"modelUsage":{},"permission_denials":[],"uuid":"6c13e88e-a1dd-4740-9498-96e26a941168","errors":["No conversation found with session ID: 00000000-0000-0000-0000-000000000000"],"result_index":0}
`

const JSON_MODE = String.raw`{"duration_api_ms":16,"stop_reason":"end_turn","session_id":"6dbeb2ca-70dd-4749-bd4d-32fa4f769058","total_cost_usd":0.000108,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3,"output_tokens_details":{"thinking_tokens":0},"server_tool_use":{"web_search_requests":0,"web_fetch_requests":0},"service_tier":"standard","cache_creation":{"ephemeral_1h_input_tokens":0,"ephemeral_5m_input_tokens":0},"inference_geo":"","iterations":[],"speed":"standard","fallback_credit":null},"modelUsage":{"claude-opus-5-5":{"inputTokens":12,"outputTokens":3,"cacheReadInputTokens":0,"cacheCreationInputTokens":0,"webSearchRequests":0,"costUSD":0.000108,"contextWindow":1000000,"maxOutputTokens":128000,"thinkingTokens":0,"cacheCreationEphemeral5mInputTokens":0,"cacheCreationEphemeral1hInputTokens":0,"canonicalModel":"claude-opus-5-5","provider":"firstParty","costBasis":"list"}},"permission_denials":[],"terminal_reason":"completed","fast_mode_state":"off","fast_mode_disabled_reason":"sdk_opt_in_required","subagent_stats":{"spawned":0,"requested":{"background":0,"foreground":0,"unset":0},"started_in_background":0,"max_depth":0,"spawned_by_subagents":0,"completed":0,"failed":0,"killed":{"parent":0,"user":0,"system":0},"refused":{"depth_limit":0,"concurrency_limit":0,"budget":0},"by_type":{}},"safety_stops":0,"is_error":false,"num_turns":1,"subtype":"success","api_error_status":null,"result":"12","ttft_ms":75,"type":"result","duration_ms":82,"uuid":"71a8bccd-2584-441f-900c-1f2771f76134","ttft_stream_ms":75,"time_to_request_ms":67,"first_content_frame_ms":75,"queued_turn_count":0,"result_index":0}`

const outcome = (stdout: string, extra: Partial<ExecOutcome> = {}): ExecOutcome => ({
  exitCode: 0,
  stdout: stdout.trimStart(),
  stderr: '',
  timedOut: false,
  durationMs: 500,
  ...extra,
})

const request = (over: Partial<PromptRequest> = {}): PromptRequest => ({
  prompt: 'What is 5 + 7?',
  workdir: '/workspace',
  env: {},
  stream: false,
  ...over,
})

const context = (hostEnv: Record<string, string> = {}): PluginContext =>
  createContext({
    workerId: 'w1',
    workdir: '/workspace',
    hostEnv,
    configEnv: {},
    agent: 'claude-code',
    capabilities: [],
  })

describe('claude-code parse', () => {
  it('reads the result line of stream-json: text, session, usage, cost', () => {
    const reply = parseClaudeOutput(outcome(FIRST))
    expect(reply.text).toBe('12')
    expect(reply.sessionId).toBe('6e9bfe62-bc71-4e20-8f6c-a82772828eb9')
    expect(reply.usage).toMatchObject({ inputTokens: 12, outputTokens: 3, costUsd: 0.000108 })
    expect(reply.raw).toMatchObject({ type: 'result', subtype: 'success' })
  })

  it('counts only this run’s cost on a resumed session, not the session total', () => {
    const reply = parseClaudeOutput(outcome(SECOND))
    expect(reply.text).toBe('3')
    expect(reply.sessionId).toBe('6e9bfe62-bc71-4e20-8f6c-a82772828eb9')
    expect((reply.raw as { total_cost_usd: number }).total_cost_usd).toBe(0.000216)
    expect(reply.usage?.costUsd).toBe(0.000108)
  })

  it('reads a streamed run with partial messages', () => {
    expect(parseClaudeOutput(outcome(PARTIAL)).text).toBe('42')
  })

  it('reads the single object of --output-format json too', () => {
    const reply = parseClaudeOutput(outcome(JSON_MODE))
    expect(reply.text).toBe('12')
    expect(reply.usage).toMatchObject({ inputTokens: 12, outputTokens: 3, costUsd: 0.000108 })
  })

  it('throws on is_error: an API failure never reads as the answer', () => {
    const run = () => parseClaudeOutput(outcome(REFUSED, { exitCode: 1 }))
    expect(run).toThrow(
      /claude reported an error \(success, connection_failed\): API Error: Connection refused/,
    )
  })

  it('throws with the CLI’s own message when the session is unknown', () => {
    const stderr = 'No conversation found with session ID: 00000000-0000-0000-0000-000000000000\n'
    const run = () => parseClaudeOutput(outcome(NOCONV, { exitCode: 1, stderr }))
    expect(run).toThrow(/\(error_during_execution\): No conversation found with session ID/)
  })

  it('throws with stderr when there is no result at all', () => {
    const stderr = 'Error: When using --print, --output-format=stream-json requires --verbose\n'
    const run = () => parseClaudeOutput(outcome('', { exitCode: 1, stderr }))
    expect(run).toThrow('claude exited 1 without a result: Error: When using --print')
  })

  it('says so when the run timed out before its result', () => {
    const cut = FIRST.trimStart().split('\n').slice(0, 2).join('\n')
    const run = () =>
      parseClaudeOutput(outcome(cut, { exitCode: 137, timedOut: true, durationMs: 60_000 }))
    expect(run).toThrow('claude timed out after 60000 ms without a result')
  })
})

describe('claude-code prompt', () => {
  const claudeArgs = (argv: string[]) => argv.slice(argv.indexOf('claude') + 1)

  it('runs claude -p with stream-json, the prompt after --', () => {
    const cmd = command(request())
    expect(cmd.argv.slice(0, 2)).toEqual(['/bin/sh', '-c'])
    expect(claudeArgs(cmd.argv)).toEqual([
      '-p',
      '--output-format',
      'stream-json',
      '--verbose',
      '--dangerously-skip-permissions',
      '--',
      'What is 5 + 7?',
    ])
    expect(cmd.stdin).toBeUndefined()
  })

  it('resumes a session with --resume=<id>', () => {
    const args = claudeArgs(command(request({ sessionId: 'abc-123' })).argv)
    expect(args).toContain('--resume=abc-123')
    expect(args.indexOf('--resume=abc-123')).toBeLessThan(args.indexOf('--'))
  })

  it('asks for token-level partial messages only when streaming', () => {
    expect(command(request({ stream: true })).argv).toContain('--include-partial-messages')
    expect(command(request({ stream: false })).argv).not.toContain('--include-partial-messages')
  })

  it('sends a prompt too long for one argument through stdin', () => {
    const prompt = 'x'.repeat(150_000)
    const cmd = command(request({ prompt }))
    expect(cmd.stdin).toBe(prompt)
    expect(cmd.argv).not.toContain(prompt)
    expect(cmd.argv.at(-1)).toBe('--dangerously-skip-permissions')
  })
})

describe('claude-code launcher: an OAuth session takes precedence over the API key', () => {
  // Runs the plugin's argv with a fake `claude` that reports whether it was given the key.
  const run = (opts: { credentials?: boolean; oauthToken?: boolean }) => {
    const root = mkdtempSync(join(tmpdir(), 'claude-code-test-'))
    try {
      const bin = join(root, 'bin')
      mkdirSync(bin)
      writeFileSync(
        join(bin, 'claude'),
        '#!/bin/sh\necho "key=${ANTHROPIC_API_KEY:-none} args=$*"\n',
      )
      chmodSync(join(bin, 'claude'), 0o755)
      if (opts.credentials) {
        mkdirSync(join(root, '.claude'))
        writeFileSync(join(root, '.claude', '.credentials.json'), '{"claudeAiOauth":{}}')
      }
      const argv = command(request({ prompt: 'hi' })).argv
      const env: Record<string, string> = {
        PATH: `${bin}:/usr/bin:/bin`,
        HOME: root,
        ANTHROPIC_API_KEY: 'k',
      }
      if (opts.oauthToken) env.CLAUDE_CODE_OAUTH_TOKEN = 't'
      return execFileSync(argv[0]!, argv.slice(1), { env, encoding: 'utf8' }).trim()
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  }

  it('keeps the key when there is no OAuth session', () => {
    expect(run({})).toBe(
      'key=k args=-p --output-format stream-json --verbose --dangerously-skip-permissions -- hi',
    )
  })

  it('drops the key when ~/.claude holds OAuth credentials', () => {
    expect(run({ credentials: true })).toMatch(/^key=none /)
  })

  it('drops the key when CLAUDE_CODE_OAUTH_TOKEN is set', () => {
    expect(run({ oauthToken: true })).toMatch(/^key=none /)
  })
})

describe('claude-code plugin', () => {
  it('pins the CLI and checks that it runs', () => {
    expect(pluginInstallSteps(plugin)).toEqual([
      { npm: [`@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}`] },
      { run: 'claude --version' },
    ])
  })

  it('copies only the OAuth credentials from HOST_CLAUDE_DIR, and mounts nothing', () => {
    expect(plugin.mounts).toBeUndefined()
    expect(plugin.hostFiles).toEqual([
      {
        fromEnv: 'HOST_CLAUDE_DIR',
        file: '.credentials.json',
        target: '~/.claude/.credentials.json',
      },
    ])
  })

  it('quiets side traffic and retries; passes the spawner’s model through (the gateway sets the URL)', () => {
    expect(plugin.env!(context())).toEqual({
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      CLAUDE_CODE_MAX_RETRIES: '0',
    })
    const hostEnv = {
      ANTHROPIC_BASE_URL: 'http://gw:4000',
      ANTHROPIC_MODEL: 'm',
      CLAUDE_CODE_MAX_RETRIES: '5',
      OTHER: 'x',
    }
    expect(plugin.env!(context(hostEnv))).toEqual({
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      CLAUDE_CODE_MAX_RETRIES: '5',
      ANTHROPIC_MODEL: 'm',
    })
  })
})
