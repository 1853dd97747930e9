import { describe, expect, it } from 'vitest'
import { MAX_LINE_BYTES, RpcError, RpcLines } from './rpc.ts'

const pair = (onRequest: (method: string) => Promise<unknown> = async () => ({ ok: true })) => {
  const sent: Record<string, unknown>[] = []
  const rpc = new RpcLines((line) => sent.push(JSON.parse(line)), onRequest)
  return { rpc, sent }
}

describe('RpcLines', () => {
  it('answers a request with the reply of the same id, across split chunks', async () => {
    const { rpc, sent } = pair()
    const answer = rpc.request('initialize', { protocolVersion: 1 })
    expect(sent[0]).toEqual({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: 1 },
    })
    rpc.push('{"jsonrpc":"2.0","id":0,"res')
    rpc.push('ult":{"protocolVersion":1}}\n')
    await expect(answer).resolves.toEqual({ protocolVersion: 1 })
  })

  it("rejects with the agent's error", async () => {
    const { rpc } = pair()
    const answer = rpc.request('session/load', {})
    rpc.push(
      '{"jsonrpc":"2.0","id":0,"error":{"code":-32603,"message":"Internal error","data":"gone"}}\n',
    )
    const err = await answer.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RpcError)
    expect((err as RpcError).message).toBe('session/load: Internal error "gone"')
  })

  it("passes notifications to listeners and answers the agent's requests", async () => {
    const seen: string[] = []
    const { rpc, sent } = pair(async (method) => {
      if (method === 'fs/read_text_file') throw new Error('not offered')
      return { outcome: { outcome: 'cancelled' } }
    })
    rpc.listen((method, params) => seen.push(`${method} ${JSON.stringify(params)}`))
    rpc.push('{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s"}}\n')
    rpc.push('{"jsonrpc":"2.0","id":"p1","method":"session/request_permission","params":{}}\n')
    rpc.push('{"jsonrpc":"2.0","id":7,"method":"fs/read_text_file","params":{}}\n')
    await new Promise((r) => setImmediate(r))
    expect(seen).toEqual(['session/update {"sessionId":"s"}'])
    expect(sent).toContainEqual({
      jsonrpc: '2.0',
      id: 'p1',
      result: { outcome: { outcome: 'cancelled' } },
    })
    expect(sent).toContainEqual({
      jsonrpc: '2.0',
      id: 7,
      error: { code: -32601, message: 'not offered' },
    })
  })

  it('passes over what is not a message: text, arrays, answers to no question, huge lines', async () => {
    const { rpc } = pair()
    const answer = rpc.request('session/prompt', {})
    rpc.push('starting up\n[1,2]\n{"jsonrpc":"2.0","id":99,"result":{}}\n{not json\n')
    rpc.push(`{"jsonrpc":"2.0","id":0,"result":{"x":"${'a'.repeat(MAX_LINE_BYTES)}`)
    rpc.push('"}}\n')
    rpc.push('{"jsonrpc":"2.0","id":0,"result":{"stopReason":"end_turn"}}\n')
    await expect(answer).resolves.toEqual({ stopReason: 'end_turn' })
  })

  it('fails the open questions and later ones when the agent is gone', async () => {
    const { rpc } = pair()
    const answer = rpc.request('session/prompt', {})
    rpc.close(new Error('the agent exited (1)'))
    await expect(answer).rejects.toThrow('the agent exited (1)')
    await expect(rpc.request('session/new', {})).rejects.toThrow('the agent exited (1)')
  })
})
