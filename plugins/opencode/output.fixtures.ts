/**
 * Real output of `opencode run --format json` 1.18.33 (its stdout, byte for byte), recorded in
 * a worker of the service. Lines are kept whole, wider than 100 columns: they are the CLI's
 * bytes.
 */

// Without `--thinking`: FIRST and SECOND against the stub model
// (test/support/stub-model/openai-chat.ts), SECOND resuming FIRST's session; TOOL against a stub
// that first asks for the bash tool; the errors against a dead port and a stub path with no
// handler.

export const FIRST = String.raw`
{"type":"step_start","timestamp":1795736901343,"sessionID":"ses_de5bd6f7affeg4HDr1JokfHikj","part":{"id":"prt_21a429635001J0tG49zq9r1EUt","messageID":"msg_21a4293e8001oWhgbmDrlkEihg","sessionID":"ses_de5bd6f7affeg4HDr1JokfHikj","type":"step-start"}}
{"type":"text","timestamp":1795736901343,"sessionID":"ses_de5bd6f7affeg4HDr1JokfHikj","part":{"id":"prt_21a4296390019y3JR1Js2SOo7N","messageID":"msg_21a4293e8001oWhgbmDrlkEihg","sessionID":"ses_de5bd6f7affeg4HDr1JokfHikj","type":"text","text":"12","time":{"start":1795736901177,"end":1795736901185}}}
{"type":"step_finish","timestamp":1795736901343,"sessionID":"ses_de5bd6f7affeg4HDr1JokfHikj","part":{"id":"prt_21a429647001FyUFaoAFqGGBPw","reason":"stop","messageID":"msg_21a4293e8001oWhgbmDrlkEihg","sessionID":"ses_de5bd6f7affeg4HDr1JokfHikj","type":"step-finish","tokens":{"total":15,"input":12,"output":3,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
`

export const SECOND = String.raw`
{"type":"step_start","timestamp":1795736905317,"sessionID":"ses_de5bd6f7affeg4HDr1JokfHikj","part":{"id":"prt_21a42a640001YbbvtSsdcdaKKS","messageID":"msg_21a42a1d4001XykATyun2WklUU","sessionID":"ses_de5bd6f7affeg4HDr1JokfHikj","type":"step-start"}}
{"type":"text","timestamp":1795736905317,"sessionID":"ses_de5bd6f7affeg4HDr1JokfHikj","part":{"id":"prt_21a42a642001vCojqF6i2eFPYc","messageID":"msg_21a42a1d4001XykATyun2WklUU","sessionID":"ses_de5bd6f7affeg4HDr1JokfHikj","type":"text","text":"3","time":{"start":1795736905283,"end":1795736905289}}}
{"type":"step_finish","timestamp":1795736905317,"sessionID":"ses_de5bd6f7affeg4HDr1JokfHikj","part":{"id":"prt_21a42a655001XE0FxoOkgWWkcA","reason":"stop","messageID":"msg_21a42a1d4001XykATyun2WklUU","sessionID":"ses_de5bd6f7affeg4HDr1JokfHikj","type":"step-finish","tokens":{"total":15,"input":12,"output":3,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
`

export const TOOL = String.raw`
{"type":"step_start","timestamp":1795736916274,"sessionID":"ses_de5bd3297ffegMigmzsu6sswWb","part":{"id":"prt_21a42d111001AC8C6rvOm4nZdG","messageID":"msg_21a42cfd2001MsWtV6aDsajrAi","sessionID":"ses_de5bd3297ffegMigmzsu6sswWb","type":"step-start"}}
{"type":"text","timestamp":1795736916274,"sessionID":"ses_de5bd3297ffegMigmzsu6sswWb","part":{"id":"prt_21a42d11d001iiZdRXN17g0HZ2","messageID":"msg_21a42cfd2001MsWtV6aDsajrAi","sessionID":"ses_de5bd3297ffegMigmzsu6sswWb","type":"text","text":"Let me check.","time":{"start":1795736916253,"end":1795736916267}}}
{"type":"tool_use","timestamp":1795736916476,"sessionID":"ses_de5bd3297ffegMigmzsu6sswWb","part":{"type":"tool","tool":"bash","callID":"call_1","state":{"status":"completed","input":{"command":"echo $((5 + 7))","description":"Add the numbers"},"output":"12\n","metadata":{"output":"12\n","exit":0,"truncated":false},"title":"echo $((5 + 7))","time":{"start":1795736916262,"end":1795736916453}},"id":"prt_21a42d120001JDRd0Fc00vuG44","sessionID":"ses_de5bd3297ffegMigmzsu6sswWb","messageID":"msg_21a42cfd2001MsWtV6aDsajrAi"}}
{"type":"step_finish","timestamp":1795736916476,"sessionID":"ses_de5bd3297ffegMigmzsu6sswWb","part":{"id":"prt_21a42d1e9001H3maI5B75622OX","reason":"tool-calls","messageID":"msg_21a42cfd2001MsWtV6aDsajrAi","sessionID":"ses_de5bd3297ffegMigmzsu6sswWb","type":"step-finish","tokens":{"total":25,"input":12,"output":5,"reasoning":0,"cache":{"write":0,"read":8}},"cost":0}}
{"type":"step_start","timestamp":1795736916512,"sessionID":"ses_de5bd3297ffegMigmzsu6sswWb","part":{"id":"prt_21a42d2140018g0Z8AY0KU76Wp","messageID":"msg_21a42d1f0001I11IDKv1jVh13E","sessionID":"ses_de5bd3297ffegMigmzsu6sswWb","type":"step-start"}}
{"type":"text","timestamp":1795736916513,"sessionID":"ses_de5bd3297ffegMigmzsu6sswWb","part":{"id":"prt_21a42d2160018ERjMa3qH54Puh","messageID":"msg_21a42d1f0001I11IDKv1jVh13E","sessionID":"ses_de5bd3297ffegMigmzsu6sswWb","type":"text","text":"12","time":{"start":1795736916502,"end":1795736916503}}}
{"type":"step_finish","timestamp":1795736916513,"sessionID":"ses_de5bd3297ffegMigmzsu6sswWb","part":{"id":"prt_21a42d219001HPD5SpausS63CP","reason":"stop","messageID":"msg_21a42d1f0001I11IDKv1jVh13E","sessionID":"ses_de5bd3297ffegMigmzsu6sswWb","type":"step-finish","tokens":{"total":32,"input":30,"output":2,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
`

// After ~1 min of retries against a port nobody listens on; exit code 1.
export const UNREACHABLE = String.raw`{"type":"error","timestamp":1795736388077,"sessionID":"ses_de5c63df8ffethSpE4xv1dl6W5","error":{"name":"APIError","data":{"message":"Cannot connect to API: Unable to connect. Is the computer able to access the url?","isRetryable":true,"metadata":{"url":"http://host.docker.internal:1/v1/chat/completions"}}}}`

// A 404 is not retried; exit code 1.
export const NOT_FOUND = String.raw`{"type":"error","timestamp":1795736410039,"sessionID":"ses_de5c4feb3ffeoUGXGRDu8qL1GL","error":{"name":"APIError","data":{"message":"Not Found: {\"error\":{\"message\":\"stub: no handler for POST /v2/messages\"}}","statusCode":404,"isRetryable":false,"responseHeaders":{"connection":"keep-alive","content-type":"application/json","date":"Thu, 26 Nov 2026 23:40:09 GMT","keep-alive":"timeout=5","transfer-encoding":"chunked"},"responseBody":"{\"error\":{\"message\":\"stub: no handler for POST /v2/messages\"}}","metadata":{"url":"http://host.docker.internal:37627/v2/messages"}}}}`

// The rest with `--thinking`, against the stub model (test/support/stub-model/openai-chat.ts)
// and, for the tool calls, a scripted stub speaking the same API that asks for them in turn
// (streamed chat completions with `tool_calls`, `reasoning_content` and a chosen
// `finish_reason`). opencode ran the tools for real, in the worker.

/** "What is 5 + 7?" as a plain command (no SSE): `stdout` of the answer. */
export const PLAIN = String.raw`
{"type":"step_start","timestamp":1796203734130,"sessionID":"ses_dc9ea553effe18i3TSavnKxFxJ","part":{"id":"prt_23615e27800122VT4yBSPeM7bv","messageID":"msg_23615c6af0015xaov2PRCOTjEn","sessionID":"ses_dc9ea553effe18i3TSavnKxFxJ","type":"step-start"}}
{"type":"text","timestamp":1796203734139,"sessionID":"ses_dc9ea553effe18i3TSavnKxFxJ","part":{"id":"prt_23615e29900114aOIiyENoX8Ww","messageID":"msg_23615c6af0015xaov2PRCOTjEn","sessionID":"ses_dc9ea553effe18i3TSavnKxFxJ","type":"text","text":"12","time":{"start":1796203733657,"end":1796203733716}}}
{"type":"step_finish","timestamp":1796203734139,"sessionID":"ses_dc9ea553effe18i3TSavnKxFxJ","part":{"id":"prt_23615e367001rpdJ5zYCTp1pHO","reason":"stop","messageID":"msg_23615c6af0015xaov2PRCOTjEn","sessionID":"ses_dc9ea553effe18i3TSavnKxFxJ","type":"step-finish","tokens":{"total":15,"input":12,"output":3,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
`

/** "What is 1 + 2?" resuming PLAIN's session, over SSE (`req.stream`): its `output` events. */
export const STREAMED = String.raw`
{"type":"step_start","timestamp":1796203760980,"sessionID":"ses_dc9ea553effe18i3TSavnKxFxJ","part":{"id":"prt_236164b2c0010yC8TbgBWAgJF8","messageID":"msg_236163ee3001avI8Kvfad94GBu","sessionID":"ses_dc9ea553effe18i3TSavnKxFxJ","type":"step-start"}}
{"type":"text","timestamp":1796203760981,"sessionID":"ses_dc9ea553effe18i3TSavnKxFxJ","part":{"id":"prt_236164b870014djTWgJQIbGHmP","messageID":"msg_236163ee3001avI8Kvfad94GBu","sessionID":"ses_dc9ea553effe18i3TSavnKxFxJ","type":"text","text":"3","time":{"start":1796203760519,"end":1796203760769}}}
{"type":"step_finish","timestamp":1796203760981,"sessionID":"ses_dc9ea553effe18i3TSavnKxFxJ","part":{"id":"prt_236164cd9001BX7maIQGa2oINN","reason":"stop","messageID":"msg_236163ee3001avI8Kvfad94GBu","sessionID":"ses_dc9ea553effe18i3TSavnKxFxJ","type":"step-finish","tokens":{"total":15,"input":12,"output":3,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
`

/** A model that reasons first (`reasoning_content`), then answers "4". */
export const THINKING = String.raw`
{"type":"step_start","timestamp":1796203781938,"sessionID":"ses_dc9e981c9ffehWuI86bY4w3AEj","part":{"id":"prt_236169d770014oXoLYLuy9UXV4","messageID":"msg_236169313001vVZDRVpk7BOZZu","sessionID":"ses_dc9e981c9ffehWuI86bY4w3AEj","type":"step-start"}}
{"type":"reasoning","timestamp":1796203781938,"sessionID":"ses_dc9e981c9ffehWuI86bY4w3AEj","part":{"id":"prt_236169d80001N0BvMeUnyo0vDY","messageID":"msg_236169313001vVZDRVpk7BOZZu","sessionID":"ses_dc9e981c9ffehWuI86bY4w3AEj","type":"reasoning","text":"The user asks for 2 + 2. That is 4.","time":{"start":1796203781504,"end":1796203781616}}}
{"type":"text","timestamp":1796203781938,"sessionID":"ses_dc9e981c9ffehWuI86bY4w3AEj","part":{"id":"prt_236169e170011ee7RA6wO0H1DR","messageID":"msg_236169313001vVZDRVpk7BOZZu","sessionID":"ses_dc9e981c9ffehWuI86bY4w3AEj","type":"text","text":"4","time":{"start":1796203781655,"end":1796203781692}}}
{"type":"step_finish","timestamp":1796203781938,"sessionID":"ses_dc9e981c9ffehWuI86bY4w3AEj","part":{"id":"prt_236169e86001OAZ1ajnieujPqc","reason":"stop","messageID":"msg_236169313001vVZDRVpk7BOZZu","sessionID":"ses_dc9e981c9ffehWuI86bY4w3AEj","type":"step-finish","tokens":{"total":25,"input":20,"output":5,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
`

/**
 * Four steps: text and todowrite + bash; write + a read of a missing file (fails); reasoning
 * and edit + glob + grep; then "All done.".
 */
export const TOOLS = String.raw`
{"type":"step_start","timestamp":1796203796492,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"id":"prt_23616d782001SnZ3H7hF6HBO3k","messageID":"msg_23616ce1d001cZZtMqQUtPoPdS","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","type":"step-start"}}
{"type":"tool_use","timestamp":1796203796492,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"type":"tool","tool":"todowrite","callID":"call_2_0","state":{"status":"completed","input":{"todos":[{"content":"Write the notes","status":"in_progress","priority":"high"},{"content":"Check them","status":"pending","priority":"medium"}]},"output":"[\n  {\n    \"content\": \"Write the notes\",\n    \"status\": \"in_progress\",\n    \"priority\": \"high\"\n  },\n  {\n    \"content\": \"Check them\",\n    \"status\": \"pending\",\n    \"priority\": \"medium\"\n  }\n]","metadata":{"todos":[{"content":"Write the notes","status":"in_progress","priority":"high"},{"content":"Check them","status":"pending","priority":"medium"}],"truncated":false},"title":"2 todos","time":{"start":1796203796467,"end":1796203796476}},"id":"prt_23616d7e6001D0MVIuMsLboqhE","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","messageID":"msg_23616ce1d001cZZtMqQUtPoPdS"}}
{"type":"text","timestamp":1796203796492,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"id":"prt_23616d7de001FP41S7eoiUBnM0","messageID":"msg_23616ce1d001cZZtMqQUtPoPdS","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","type":"text","text":"Let me look.","time":{"start":1796203796446,"end":1796203796485}}}
{"type":"tool_use","timestamp":1796203799167,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"type":"tool","tool":"bash","callID":"call_2_1","state":{"status":"completed","input":{"command":"echo hi && ls /workspace","description":"Say hi"},"output":"hi\n","metadata":{"output":"hi\n","exit":0,"truncated":false},"title":"echo hi && ls /workspace","time":{"start":1796203796479,"end":1796203798937}},"id":"prt_23616d7f6001HcwvS3U81zWz3g","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","messageID":"msg_23616ce1d001cZZtMqQUtPoPdS"}}
{"type":"step_finish","timestamp":1796203799252,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"id":"prt_23616e1c5001a6rEH5AqAhE2Z8","reason":"tool-calls","messageID":"msg_23616ce1d001cZZtMqQUtPoPdS","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","type":"step-finish","tokens":{"total":25,"input":20,"output":5,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
{"type":"step_start","timestamp":1796203800170,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"id":"prt_23616e5a8001DwGQz6atfJBFr5","messageID":"msg_23616e221001IJy7P35SL76GJv","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","type":"step-start"}}
{"type":"tool_use","timestamp":1796203800733,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"type":"tool","tool":"write","callID":"call_3_0","state":{"status":"completed","input":{"filePath":"/workspace/notes.txt","content":"one\ntwo\n"},"output":"Wrote file successfully.","metadata":{"diagnostics":{},"filepath":"/workspace/notes.txt","exists":false,"truncated":false},"title":"workspace/notes.txt","time":{"start":1796203800052,"end":1796203800267}},"id":"prt_23616e5d1001PU04FDX1jhWcYH","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","messageID":"msg_23616e221001IJy7P35SL76GJv"}}
{"type":"tool_use","timestamp":1796203800739,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"type":"tool","tool":"read","callID":"call_3_1","state":{"status":"error","input":{"filePath":"/workspace/missing.txt"},"error":"File not found: /workspace/missing.txt","time":{"start":1796203800149,"end":1796203800322}},"id":"prt_23616e632001MEFXkBWqicgAnP","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","messageID":"msg_23616e221001IJy7P35SL76GJv"}}
{"type":"step_finish","timestamp":1796203800739,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"id":"prt_23616e73c001iObTzk832JhkJq","reason":"tool-calls","messageID":"msg_23616e221001IJy7P35SL76GJv","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","type":"step-finish","tokens":{"total":25,"input":20,"output":5,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
{"type":"step_start","timestamp":1796203801223,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"id":"prt_23616e945001BhUAknVMNijwMw","messageID":"msg_23616e81f001nMvRTpXsINhQ0a","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","type":"step-start"}}
{"type":"reasoning","timestamp":1796203801223,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"id":"prt_23616e968001rXaCmWOBfcpUeS","messageID":"msg_23616e81f001nMvRTpXsINhQ0a","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","type":"reasoning","text":"Now fix the second line.","time":{"start":1796203800936,"end":1796203800949}}}
{"type":"tool_use","timestamp":1796203801223,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"type":"tool","tool":"edit","callID":"call_4_0","state":{"status":"completed","input":{"filePath":"/workspace/notes.txt","oldString":"two","newString":"three"},"output":"Edit applied successfully.","metadata":{"diagnostics":{},"diff":"Index: /workspace/notes.txt\n===================================================================\n--- /workspace/notes.txt\n+++ /workspace/notes.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+three\n","filediff":{"file":"/workspace/notes.txt","patch":"Index: /workspace/notes.txt\n===================================================================\n--- /workspace/notes.txt\n+++ /workspace/notes.txt\n@@ -1,2 +1,2 @@\n one\n-two\n+three\n","additions":1,"deletions":1},"truncated":false},"title":"workspace/notes.txt","time":{"start":1796203801033,"end":1796203801214}},"id":"prt_23616e984001397VmYIdakklQS","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","messageID":"msg_23616e81f001nMvRTpXsINhQ0a"}}
{"type":"tool_use","timestamp":1796203801454,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"type":"tool","tool":"glob","callID":"call_4_1","state":{"status":"completed","input":{"pattern":"**/*.txt"},"output":"/workspace/notes.txt","metadata":{"count":1,"truncated":false},"title":"workspace","time":{"start":1796203801078,"end":1796203801227}},"id":"prt_23616e9d8001quVLNf2loGSXZH","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","messageID":"msg_23616e81f001nMvRTpXsINhQ0a"}}
{"type":"tool_use","timestamp":1796203801454,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"type":"tool","tool":"grep","callID":"call_4_2","state":{"status":"completed","input":{"pattern":"thr","path":"/workspace"},"output":"Found 1 matches\n/workspace/notes.txt:\n  Line 2: three\n","metadata":{"matches":1,"truncated":false},"title":"thr","time":{"start":1796203801176,"end":1796203801231}},"id":"prt_23616ea0500184m9biP7VYV82H","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","messageID":"msg_23616e81f001nMvRTpXsINhQ0a"}}
{"type":"step_finish","timestamp":1796203801454,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"id":"prt_23616ea92001A5vzI67my5RBTD","reason":"tool-calls","messageID":"msg_23616e81f001nMvRTpXsINhQ0a","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","type":"step-finish","tokens":{"total":25,"input":20,"output":5,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
{"type":"step_start","timestamp":1796203801830,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"id":"prt_23616ec45001E7LSL678gF34J7","messageID":"msg_23616ea9a001GcBfMRqc5m7wWU","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","type":"step-start"}}
{"type":"text","timestamp":1796203801831,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"id":"prt_23616ec7d0013XEMaVyn3pCD85","messageID":"msg_23616ea9a001GcBfMRqc5m7wWU","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","type":"text","text":"All done.","time":{"start":1796203801726,"end":1796203801730}}}
{"type":"step_finish","timestamp":1796203801831,"sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","part":{"id":"prt_23616ec85001ShAgf334tUYO6r","reason":"stop","messageID":"msg_23616ea9a001GcBfMRqc5m7wWU","sessionID":"ses_dc9e9407cffeHHs3O0ZzPG7rGX","type":"step-finish","tokens":{"total":25,"input":20,"output":5,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
`

/** A `task` tool call: a subagent (its own session, whose parts opencode does not print). */
export const TASK = String.raw`
{"type":"step_start","timestamp":1796203867315,"sessionID":"ses_dc9e819b6ffePUl4dpgyGFVRS5","part":{"id":"prt_23617ec7f001Ztxa3q1J9X7etj","messageID":"msg_23617ea65001bhb4EcsijFfScn","sessionID":"ses_dc9e819b6ffePUl4dpgyGFVRS5","type":"step-start"}}
{"type":"tool_use","timestamp":1796203867659,"sessionID":"ses_dc9e819b6ffePUl4dpgyGFVRS5","part":{"type":"tool","tool":"task","callID":"call_2_0","state":{"status":"completed","input":{"description":"Add the numbers","prompt":"What is 5 + 7?","subagent_type":"general"},"output":"<task id=\"ses_dc9e8136fffedLL1ryp4rAFnkx\" state=\"completed\">\n<task_result>\n12\n</task_result>\n</task>","metadata":{"parentSessionId":"ses_dc9e819b6ffePUl4dpgyGFVRS5","sessionId":"ses_dc9e8136fffedLL1ryp4rAFnkx","model":{"modelID":"stub-model","providerID":"gateway"},"truncated":false},"title":"Add the numbers","time":{"start":1796203867284,"end":1796203867643}},"id":"prt_23617ec84001jid5fSTxqeiHQz","sessionID":"ses_dc9e819b6ffePUl4dpgyGFVRS5","messageID":"msg_23617ea65001bhb4EcsijFfScn"}}
{"type":"step_finish","timestamp":1796203867665,"sessionID":"ses_dc9e819b6ffePUl4dpgyGFVRS5","part":{"id":"prt_23617edfe0018XDamoXLdfIIHq","reason":"tool-calls","messageID":"msg_23617ea65001bhb4EcsijFfScn","sessionID":"ses_dc9e819b6ffePUl4dpgyGFVRS5","type":"step-finish","tokens":{"total":25,"input":20,"output":5,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
{"type":"step_start","timestamp":1796203867800,"sessionID":"ses_dc9e819b6ffePUl4dpgyGFVRS5","part":{"id":"prt_23617ee65001akRvqsPnsh1RHb","messageID":"msg_23617ee06001HxKv2c1qslYAP2","sessionID":"ses_dc9e819b6ffePUl4dpgyGFVRS5","type":"step-start"}}
{"type":"text","timestamp":1796203867803,"sessionID":"ses_dc9e819b6ffePUl4dpgyGFVRS5","part":{"id":"prt_23617ee6f0010S2cOETRe1ZJjY","messageID":"msg_23617ee06001HxKv2c1qslYAP2","sessionID":"ses_dc9e819b6ffePUl4dpgyGFVRS5","type":"text","text":"Finished.","time":{"start":1796203867759,"end":1796203867768}}}
{"type":"step_finish","timestamp":1796203867806,"sessionID":"ses_dc9e819b6ffePUl4dpgyGFVRS5","part":{"id":"prt_23617ee7c001TOBl8YzkCwj8qd","reason":"stop","messageID":"msg_23617ee06001HxKv2c1qslYAP2","sessionID":"ses_dc9e819b6ffePUl4dpgyGFVRS5","type":"step-finish","tokens":{"total":25,"input":20,"output":5,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
`

/** A `webfetch` the worker's egress refused (403): the tool call fails, the turn goes on. */
export const FETCH_FAILED = String.raw`
{"type":"step_start","timestamp":1796203871125,"sessionID":"ses_dc9e80a35ffee7IyM9pW1G8jP2","part":{"id":"prt_23617fb64001GcsrUwZ0IRzBba","messageID":"msg_23617fa4a0016TUqujojfkvPfK","sessionID":"ses_dc9e80a35ffee7IyM9pW1G8jP2","type":"step-start"}}
{"type":"tool_use","timestamp":1796203871128,"sessionID":"ses_dc9e80a35ffee7IyM9pW1G8jP2","part":{"type":"tool","tool":"webfetch","callID":"call_4_0","state":{"status":"error","input":{"url":"http://example.invalid/page","format":"text"},"error":"StatusCode: non 2xx status code (403 GET http://example.invalid/page)","time":{"start":1796203871096,"end":1796203871102}},"id":"prt_23617fb68001b9eUbJ4S2eTFC8","sessionID":"ses_dc9e80a35ffee7IyM9pW1G8jP2","messageID":"msg_23617fa4a0016TUqujojfkvPfK"}}
{"type":"step_finish","timestamp":1796203871128,"sessionID":"ses_dc9e80a35ffee7IyM9pW1G8jP2","part":{"id":"prt_23617fb83001UuckwrUuVLcjSw","reason":"tool-calls","messageID":"msg_23617fa4a0016TUqujojfkvPfK","sessionID":"ses_dc9e80a35ffee7IyM9pW1G8jP2","type":"step-finish","tokens":{"total":25,"input":20,"output":5,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
{"type":"step_start","timestamp":1796203871731,"sessionID":"ses_dc9e80a35ffee7IyM9pW1G8jP2","part":{"id":"prt_23617fdbd001Ya2h1LK6WtVj2H","messageID":"msg_23617fb90001uzJP03ncx5sQmG","sessionID":"ses_dc9e80a35ffee7IyM9pW1G8jP2","type":"step-start"}}
{"type":"text","timestamp":1796203871741,"sessionID":"ses_dc9e80a35ffee7IyM9pW1G8jP2","part":{"id":"prt_23617fdc8001mNm5I6IEYdybXh","messageID":"msg_23617fb90001uzJP03ncx5sQmG","sessionID":"ses_dc9e80a35ffee7IyM9pW1G8jP2","type":"text","text":"Finished.","time":{"start":1796203871689,"end":1796203871696}}}
{"type":"step_finish","timestamp":1796203871744,"sessionID":"ses_dc9e80a35ffee7IyM9pW1G8jP2","part":{"id":"prt_23617fdd8001MKBy69EpvjCqtm","reason":"stop","messageID":"msg_23617fb90001uzJP03ncx5sQmG","sessionID":"ses_dc9e80a35ffee7IyM9pW1G8jP2","type":"step-finish","tokens":{"total":25,"input":20,"output":5,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
`

/** The model stopped at its output limit (`finish_reason: length`). */
export const LENGTH = String.raw`
{"type":"step_start","timestamp":1796203815062,"sessionID":"ses_dc9e8ebb0ffe2bxqDSf5QhJvLa","part":{"id":"prt_236171fe8001Fa69YTRlmI3tR7","messageID":"msg_236171d98001SmAutAwdOtvFu0","sessionID":"ses_dc9e8ebb0ffe2bxqDSf5QhJvLa","type":"step-start"}}
{"type":"text","timestamp":1796203815064,"sessionID":"ses_dc9e8ebb0ffe2bxqDSf5QhJvLa","part":{"id":"prt_236172007001ze3Itzs4myFsq4","messageID":"msg_236171d98001SmAutAwdOtvFu0","sessionID":"ses_dc9e8ebb0ffe2bxqDSf5QhJvLa","type":"text","text":"The answer is","time":{"start":1796203814919,"end":1796203814934}}}
{"type":"step_finish","timestamp":1796203815064,"sessionID":"ses_dc9e8ebb0ffe2bxqDSf5QhJvLa","part":{"id":"prt_236172037001iwd9HqLUnMMDX2","reason":"length","messageID":"msg_236171d98001SmAutAwdOtvFu0","sessionID":"ses_dc9e8ebb0ffe2bxqDSf5QhJvLa","type":"step-finish","tokens":{"total":25,"input":20,"output":5,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
`

/** The model's content filter (`finish_reason: content_filter`): an error line; exit code 1. */
export const FILTERED = String.raw`
{"type":"step_start","timestamp":1796203826804,"sessionID":"ses_dc9e8ca5bffer5uDZAYF5gT0gi","part":{"id":"prt_236174a71001cMoRYEuXkSsh11","messageID":"msg_2361742ef001zvA3SSKGP0Qved","sessionID":"ses_dc9e8ca5bffer5uDZAYF5gT0gi","type":"step-start"}}
{"type":"step_finish","timestamp":1796203826805,"sessionID":"ses_dc9e8ca5bffer5uDZAYF5gT0gi","part":{"id":"prt_236174a9a001xJsHURBC9afaQP","reason":"content-filter","messageID":"msg_2361742ef001zvA3SSKGP0Qved","sessionID":"ses_dc9e8ca5bffer5uDZAYF5gT0gi","type":"step-finish","tokens":{"total":25,"input":20,"output":5,"reasoning":0,"cache":{"write":0,"read":0}},"cost":0}}
{"type":"error","timestamp":1796203826805,"sessionID":"ses_dc9e8ca5bffer5uDZAYF5gT0gi","error":{"name":"ContentFilterError","data":{"message":"The response was blocked by the provider's content filter"}}}
`
