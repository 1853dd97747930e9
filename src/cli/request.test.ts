import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { catalog } from '../core/catalog.ts'
import { commandTable, type CommandName } from '../core/commands.ts'
import type { Dispatcher } from '../core/dispatcher.ts'
import type { AppEnv } from '../http/auth.ts'
import { registerCommandRoutes } from '../http/routes.ts'
import { SseStreams } from '../http/sse.ts'
import { requestFor } from './request.ts'

const WID = 'w-0123456789abcdef'

/** An input of each command, with its bytes apart. */
const samples: Record<CommandName, { input: Record<string, unknown>; bytes?: Uint8Array }> = {
  create: { input: { config: { agent: 'shell', labels: { a: 'b' } } } },
  list: { input: { labels: { team: 'x y', 'a.b': 'c=d' } } },
  status: { input: { workerId: WID } },
  send_command: { input: { workerId: WID, argv: ['ls', '-la'], timeoutMs: 5 } },
  send_file: {
    input: { workerId: WID, path: '/a b/c?d', mode: '0600' },
    bytes: new Uint8Array([0, 255]),
  },
  read_file: { input: { workerId: WID, path: '/x&y' } },
  list_files: { input: { workerId: WID, path: '/a b', limit: '5' } },
  logs: { input: { workerId: WID, tail: '5' } },
  watch: { input: { workerId: WID, path: '/a b', recursive: 'false', durationMs: '5' } },
  pause: { input: { workerId: WID } },
  resume: { input: { workerId: WID } },
  update: { input: { workerId: WID, ttlSeconds: 60 } },
  delete: { input: { workerId: WID } },
  transcript: { input: { workerId: WID, sessionId: 'ses_1 2' } },
  respond: { input: { workerId: WID, text: 'half way' } },
  checkpoint: { input: { workerId: WID } },
  list_checkpoints: { input: { workerId: WID } },
  delete_checkpoint: { input: { workerId: WID, checkpointId: 'c-0123456789abcdef' } },
  restore: { input: { workerId: WID, checkpointId: 'c-0123456789abcdef' } },
  fork: { input: { workerId: WID, count: 2, checkpoint: 'c-0123456789abcdef' } },
  request_permission: {
    input: { workerId: WID, requestId: 'toolu_1', tool: 'Bash', input: { command: 'ls' } },
  },
  answer_permission: {
    input: { workerId: WID, requestId: 'toolu_1', decision: 'allow', always: true },
  },
  permissions: { input: { workerId: WID } },
  plugins: { input: {} },
  build_image: { input: { agent: 'shell', capabilities: ['git'] } },
  pools: { input: {} },
}

describe('requestFor', () => {
  it('builds for every command the request its route reads back as the same input', async () => {
    const app = new Hono<AppEnv>()
    // The routes as served, over a dispatcher that answers with the input it was given.
    const echo = {
      execute: async (
        _p: unknown,
        _c: unknown,
        input: Record<string, unknown>,
        opts: { body?: () => Promise<Uint8Array> },
      ) => ({
        kind: 'result',
        result: { input, bytes: opts.body ? [...(await opts.body())] : undefined },
      }),
    } as unknown as Dispatcher
    registerCommandRoutes(app, catalog, echo, {
      maxBodyBytes: 1 << 20,
      maxFileBytes: 1 << 20,
      streams: new SseStreams(),
    })
    for (const [name, { input, bytes }] of Object.entries(samples) as [
      CommandName,
      (typeof samples)[CommandName],
    ][]) {
      const r = requestFor(commandTable[name].http, input)
      const init: RequestInit = { method: r.method }
      if (bytes) init.body = bytes as Uint8Array<ArrayBuffer>
      else if (r.body !== undefined) {
        init.body = JSON.stringify(r.body)
        init.headers = { 'content-type': 'application/json' }
      }
      const res = await app.request(r.path, init)
      expect(res.status, `${name} ${r.method} ${r.path}`).toBeLessThan(300)
      const got = (await res.json()) as { input: unknown; bytes?: number[] }
      expect(got.input, name).toEqual(input)
      expect(got.bytes, name).toEqual(bytes && [...bytes])
    }
  })
})
