// Real stdout of Gemini CLI 0.61.0 (`--output-format=stream-json`, which the plugin asks for
// whether the prompt streams or not) in a worker of the service, against a local stand-in of
// the Gemini API. For the sum prompts it answered as the project's stub model does; for the
// others it answered with scripted parts: text in several chunks after a `thought: true` part
// (which the CLI does not show), function calls of the CLI's own tools, a long shell output, a
// `SAFETY` finish. Each run is one prompt in a fresh session.

/** `What is 5 + 7?`, sent without streaming (a plain `send_command`). */
export const PLAIN_SUM = String.raw`{"type":"init","timestamp":"2026-12-02T09:29:56.750Z","session_id":"85fd7b2e-ae47-4d0c-a13f-b16e0691fcb3","model":"gemini-2.5-pro"}
{"type":"message","timestamp":"2026-12-02T09:29:56.752Z","role":"user","content":"What is 5 + 7?"}
{"type":"message","timestamp":"2026-12-02T09:29:57.012Z","role":"assistant","content":"12","delta":true}
{"type":"result","timestamp":"2026-12-02T09:29:57.188Z","status":"success","stats":{"total_tokens":15,"input_tokens":12,"output_tokens":3,"cached":0,"input":12,"duration_ms":438,"tool_calls":0,"models":{"gemini-2.5-pro":{"total_tokens":15,"input_tokens":12,"output_tokens":3,"cached":0,"input":12}}}}
`

/** Streamed (SSE): the answer in three deltas; the model's thought part is not shown. */
export const STREAMED_CHUNKS = String.raw`{"type":"init","timestamp":"2026-12-02T09:30:14.485Z","session_id":"1c0f4a29-f2c8-431b-b0ac-e53244899b07","model":"gemini-2.5-pro"}
{"type":"message","timestamp":"2026-12-02T09:30:14.488Z","role":"user","content":"CHUNKS What is 20 + 22?"}
{"type":"message","timestamp":"2026-12-02T09:30:14.721Z","role":"assistant","content":"The answer","delta":true}
{"type":"message","timestamp":"2026-12-02T09:30:14.727Z","role":"assistant","content":" is ","delta":true}
{"type":"message","timestamp":"2026-12-02T09:30:14.733Z","role":"assistant","content":"42.","delta":true}
{"type":"result","timestamp":"2026-12-02T09:30:14.865Z","status":"success","stats":{"total_tokens":35,"input_tokens":30,"output_tokens":5,"cached":0,"input":30,"duration_ms":380,"tool_calls":0,"models":{"gemini-2.5-pro":{"total_tokens":35,"input_tokens":30,"output_tokens":5,"cached":0,"input":30}}}}
`

/**
 * Sent without streaming: text, then eight tool calls at once (a todo list, a shell command, a
 * read of a missing file, a write, an edit, glob, grep and a listing), then the final answer.
 */
export const PLAIN_TOOLS = String.raw`{"type":"init","timestamp":"2026-12-02T09:30:17.108Z","session_id":"f2333995-e5c1-4592-af97-946ab10ff8fe","model":"gemini-2.5-pro"}
{"type":"message","timestamp":"2026-12-02T09:30:17.110Z","role":"user","content":"TOOLS please"}
{"type":"message","timestamp":"2026-12-02T09:30:17.342Z","role":"assistant","content":"Let me look ","delta":true}
{"type":"message","timestamp":"2026-12-02T09:30:17.365Z","role":"assistant","content":"around first.","delta":true}
{"type":"tool_use","timestamp":"2026-12-02T09:30:17.613Z","tool_name":"write_todos","tool_id":"write_todos__write_todos_1796203817371_0","parameters":{"todos":[{"description":"List the workspace","status":"in_progress"},{"description":"Read notes.txt","status":"pending"},{"description":"Old idea","status":"cancelled"}]}}
{"type":"tool_use","timestamp":"2026-12-02T09:30:17.635Z","tool_name":"run_shell_command","tool_id":"run_shell_command__run_shell_command_1796203817617_1","parameters":{"command":"ls -la /workspace","description":"List the workspace"}}
{"type":"tool_use","timestamp":"2026-12-02T09:30:17.664Z","tool_name":"read_file","tool_id":"read_file__read_file_1796203817637_2","parameters":{"file_path":"/workspace/notes.txt"}}
{"type":"tool_use","timestamp":"2026-12-02T09:30:17.703Z","tool_name":"write_file","tool_id":"write_file__write_file_1796203817686_3","parameters":{"file_path":"/workspace/hello.txt","content":"hello\n"}}
{"type":"tool_use","timestamp":"2026-12-02T09:30:17.741Z","tool_name":"replace","tool_id":"replace__replace_1796203817706_4","parameters":{"file_path":"/workspace/hello.txt","instruction":"greet the world","old_string":"hello","new_string":"hello world"}}
{"type":"tool_use","timestamp":"2026-12-02T09:30:17.744Z","tool_name":"glob","tool_id":"glob__glob_1796203817741_5","parameters":{"pattern":"**/*.txt"}}
{"type":"tool_use","timestamp":"2026-12-02T09:30:17.753Z","tool_name":"grep_search","tool_id":"grep_search__grep_search_1796203817750_6","parameters":{"pattern":"hello"}}
{"type":"tool_use","timestamp":"2026-12-02T09:30:17.760Z","tool_name":"list_directory","tool_id":"list_directory__list_directory_1796203817758_7","parameters":{"dir_path":"/workspace"}}
{"type":"tool_result","timestamp":"2026-12-02T09:30:18.115Z","tool_id":"write_todos__write_todos_1796203817371_0","status":"success"}
{"type":"tool_result","timestamp":"2026-12-02T09:30:18.115Z","tool_id":"run_shell_command__run_shell_command_1796203817617_1","status":"success","output":"total 8\ndrwxr-xr-x 2 worker worker 4096 Dec  2 08:25 .\ndrwxr-xr-x 1 root   root   4096 Dec  2 09:30 .."}
{"type":"tool_result","timestamp":"2026-12-02T09:30:18.115Z","tool_id":"read_file__read_file_1796203817637_2","status":"error","output":"File not found.","error":{"type":"file_not_found","message":"File not found: /workspace/notes.txt"}}
{"type":"tool_result","timestamp":"2026-12-02T09:30:18.115Z","tool_id":"write_file__write_file_1796203817686_3","status":"success"}
{"type":"tool_result","timestamp":"2026-12-02T09:30:18.115Z","tool_id":"replace__replace_1796203817706_4","status":"success"}
{"type":"tool_result","timestamp":"2026-12-02T09:30:18.115Z","tool_id":"glob__glob_1796203817741_5","status":"success","output":"Found 1 matching file(s)"}
{"type":"tool_result","timestamp":"2026-12-02T09:30:18.115Z","tool_id":"grep_search__grep_search_1796203817750_6","status":"success"}
{"type":"tool_result","timestamp":"2026-12-02T09:30:18.115Z","tool_id":"list_directory__list_directory_1796203817758_7","status":"success"}
{"type":"message","timestamp":"2026-12-02T09:30:18.275Z","role":"assistant","content":"Done: ","delta":true}
{"type":"message","timestamp":"2026-12-02T09:30:18.299Z","role":"assistant","content":"the workspace is listed.","delta":true}
{"type":"result","timestamp":"2026-12-02T09:30:18.315Z","status":"success","stats":{"total_tokens":328,"input_tokens":300,"output_tokens":28,"cached":50,"input":250,"duration_ms":1207,"tool_calls":8,"models":{"gemini-2.5-pro":{"total_tokens":328,"input_tokens":300,"output_tokens":28,"cached":50,"input":250}}}}
`

/** The same run, streamed. */
export const STREAMED_TOOLS = String.raw`{"type":"init","timestamp":"2026-12-02T09:30:21.784Z","session_id":"8e9aa70f-92f6-4360-8e0a-0404bf93ce73","model":"gemini-2.5-pro"}
{"type":"message","timestamp":"2026-12-02T09:30:21.787Z","role":"user","content":"TOOLS please"}
{"type":"message","timestamp":"2026-12-02T09:30:21.894Z","role":"assistant","content":"Let me look ","delta":true}
{"type":"message","timestamp":"2026-12-02T09:30:21.897Z","role":"assistant","content":"around first.","delta":true}
{"type":"tool_use","timestamp":"2026-12-02T09:30:22.028Z","tool_name":"write_todos","tool_id":"write_todos__write_todos_1796203821902_0","parameters":{"todos":[{"description":"List the workspace","status":"in_progress"},{"description":"Read notes.txt","status":"pending"},{"description":"Old idea","status":"cancelled"}]}}
{"type":"tool_use","timestamp":"2026-12-02T09:30:22.040Z","tool_name":"run_shell_command","tool_id":"run_shell_command__run_shell_command_1796203822028_1","parameters":{"command":"ls -la /workspace","description":"List the workspace"}}
{"type":"tool_use","timestamp":"2026-12-02T09:30:22.060Z","tool_name":"read_file","tool_id":"read_file__read_file_1796203822056_2","parameters":{"file_path":"/workspace/notes.txt"}}
{"type":"tool_use","timestamp":"2026-12-02T09:30:22.076Z","tool_name":"write_file","tool_id":"write_file__write_file_1796203822060_3","parameters":{"file_path":"/workspace/hello.txt","content":"hello\n"}}
{"type":"tool_use","timestamp":"2026-12-02T09:30:22.112Z","tool_name":"replace","tool_id":"replace__replace_1796203822076_4","parameters":{"file_path":"/workspace/hello.txt","instruction":"greet the world","old_string":"hello","new_string":"hello world"}}
{"type":"tool_use","timestamp":"2026-12-02T09:30:22.124Z","tool_name":"glob","tool_id":"glob__glob_1796203822122_5","parameters":{"pattern":"**/*.txt"}}
{"type":"tool_use","timestamp":"2026-12-02T09:30:22.137Z","tool_name":"grep_search","tool_id":"grep_search__grep_search_1796203822124_6","parameters":{"pattern":"hello"}}
{"type":"tool_use","timestamp":"2026-12-02T09:30:22.152Z","tool_name":"list_directory","tool_id":"list_directory__list_directory_1796203822137_7","parameters":{"dir_path":"/workspace"}}
{"type":"tool_result","timestamp":"2026-12-02T09:30:22.480Z","tool_id":"write_todos__write_todos_1796203821902_0","status":"success"}
{"type":"tool_result","timestamp":"2026-12-02T09:30:22.480Z","tool_id":"run_shell_command__run_shell_command_1796203822028_1","status":"success","output":"total 12\ndrwxr-xr-x 1 worker worker 4096 Dec  2 09:30 .\ndrwxr-xr-x 1 root   root   4096 Dec  2 09:30 ..\n-rw-r--r-- 1 worker worker   12 Dec  2 09:30 hello.txt"}
{"type":"tool_result","timestamp":"2026-12-02T09:30:22.480Z","tool_id":"read_file__read_file_1796203822056_2","status":"error","output":"File not found.","error":{"type":"file_not_found","message":"File not found: /workspace/notes.txt"}}
{"type":"tool_result","timestamp":"2026-12-02T09:30:22.486Z","tool_id":"write_file__write_file_1796203822060_3","status":"success"}
{"type":"tool_result","timestamp":"2026-12-02T09:30:22.492Z","tool_id":"replace__replace_1796203822076_4","status":"success"}
{"type":"tool_result","timestamp":"2026-12-02T09:30:22.495Z","tool_id":"glob__glob_1796203822122_5","status":"success","output":"Found 1 matching file(s)"}
{"type":"tool_result","timestamp":"2026-12-02T09:30:22.495Z","tool_id":"grep_search__grep_search_1796203822124_6","status":"success"}
{"type":"tool_result","timestamp":"2026-12-02T09:30:22.495Z","tool_id":"list_directory__list_directory_1796203822137_7","status":"success"}
{"type":"message","timestamp":"2026-12-02T09:30:22.596Z","role":"assistant","content":"Done: ","delta":true}
{"type":"message","timestamp":"2026-12-02T09:30:22.611Z","role":"assistant","content":"the workspace is listed.","delta":true}
{"type":"result","timestamp":"2026-12-02T09:30:22.617Z","status":"success","stats":{"total_tokens":328,"input_tokens":300,"output_tokens":28,"cached":50,"input":250,"duration_ms":833,"tool_calls":8,"models":{"gemini-2.5-pro":{"total_tokens":328,"input_tokens":300,"output_tokens":28,"cached":50,"input":250}}}}
`

/** Streamed: `seq 1 3000` run by the shell tool (its output, 17 KB, is put back in below). */
const BIG = String.raw`{"type":"init","timestamp":"2026-12-02T09:30:30.654Z","session_id":"91557eef-5fbe-44b2-becd-ab4ccfc22027","model":"gemini-2.5-pro"}
{"type":"message","timestamp":"2026-12-02T09:30:30.657Z","role":"user","content":"BIG count"}
{"type":"tool_use","timestamp":"2026-12-02T09:30:30.784Z","tool_name":"run_shell_command","tool_id":"run_shell_command__run_shell_command_1796203830717_0","parameters":{"command":"seq 1 3000"}}
{"type":"tool_result","timestamp":"2026-12-02T09:30:31.142Z","tool_id":"run_shell_command__run_shell_command_1796203830717_0","status":"success","output":"SEQ_1_3000"}
{"type":"message","timestamp":"2026-12-02T09:30:31.227Z","role":"assistant","content":"Counted.","delta":true}
{"type":"result","timestamp":"2026-12-02T09:30:31.229Z","status":"success","stats":{"total_tokens":66,"input_tokens":60,"output_tokens":6,"cached":0,"input":60,"duration_ms":576,"tool_calls":1,"models":{"gemini-2.5-pro":{"total_tokens":66,"input_tokens":60,"output_tokens":6,"cached":0,"input":60}}}}
`

/** The long-output run as it was recorded. */
export const STREAMED_BIG = BIG.replace(
  'SEQ_1_3000',
  Array.from({ length: 3000 }, (_, i) => i + 1).join(String.raw`\n`),
)

/** Streamed: the model's answer blocked (`finishReason: SAFETY`, no text). */
export const STREAMED_SAFETY = String.raw`{"type":"init","timestamp":"2026-12-02T09:30:37.605Z","session_id":"0efb9b06-0c75-40c3-9760-cb2a7402fe6c","model":"gemini-2.5-pro"}
{"type":"message","timestamp":"2026-12-02T09:30:37.608Z","role":"user","content":"SAFETY go"}
{"type":"error","timestamp":"2026-12-02T09:30:37.740Z","severity":"error","message":"The model response was blocked due to safety settings."}
{"type":"result","timestamp":"2026-12-02T09:30:37.741Z","status":"error","stats":{"total_tokens":30,"input_tokens":30,"output_tokens":0,"cached":0,"input":30,"duration_ms":137,"tool_calls":0,"models":{"gemini-2.5-pro":{"total_tokens":30,"input_tokens":30,"output_tokens":0,"cached":0,"input":30}}}}
`

/** Streamed: the model endpoint down (`fetch failed`); the run exits 1. */
export const STREAMED_DEAD = String.raw`{"type":"init","timestamp":"2026-11-26T23:42:58.090Z","session_id":"dd1e96c1-1b3d-4178-a135-e42ff11d93d9","model":"gemini-2.5-pro"}
{"type":"message","timestamp":"2026-11-26T23:42:58.094Z","role":"user","content":"What is 5 + 7?"}
{"type":"result","timestamp":"2026-11-26T23:42:58.265Z","status":"error","error":{"type":"unknown","message":"[API Error: exception TypeError: fetch failed sending request]"},"stats":{"total_tokens":0,"input_tokens":0,"output_tokens":0,"cached":0,"input":0,"duration_ms":0,"tool_calls":0,"models":{"gemini-2.5-pro":{"total_tokens":0,"input_tokens":0,"output_tokens":0,"cached":0,"input":0}}}}
`
