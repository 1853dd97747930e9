import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import type { Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  connectVia,
  echoServer,
  LOOPBACK,
  portOf,
  roundTrip,
  startProxy,
} from './egress-proxy.fixtures.ts'

let echo: Server
let E: number
const proxies: { close(): Promise<void> }[] = []
const proxy = async (...args: Parameters<typeof startProxy>) => {
  const p = await startProxy(...args)
  proxies.push(p)
  return p
}

beforeAll(async () => {
  echo = await echoServer()
  E = portOf(echo)
})
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()))
  echo.close()
})

describe('egress proxy: CONNECT', () => {
  it('tunnels to an allowed name, resolved through the static hosts', async () => {
    const { port, seen } = await proxy(['allowed.test'], {
      hosts: { 'Allowed.Test': '127.0.0.1' },
      privateAllow: LOOPBACK,
      resolve: () => Promise.reject(new Error('DNS must not be asked')),
    })
    const { status, socket } = await connectVia(port, `allowed.test:${E}`, 'KEY-A')
    expect(status).toBe(200)
    expect(await roundTrip(socket, 'ping')).toBe('ping')
    expect(await roundTrip(socket, 'pong')).toBe('pong')
    expect(seen.allowed).toEqual([{ workerId: 'a', host: 'allowed.test', port: E }])
    socket.destroy()
  })

  it('delivers bytes the client sent along with the CONNECT', async () => {
    const { port } = await proxy(['allowed.test'], { privateAllow: LOOPBACK })
    const { status, socket } = await connectVia(port, `allowed.test:${E}`, 'KEY-A', 'early ')
    expect(status).toBe(200)
    expect(await roundTrip(socket, 'bird', 'early bird')).toBe('early bird')
    socket.destroy()
  })

  it('refuses a name not in the allowlist with 403, saying why, and reports it', async () => {
    const { port, seen } = await proxy(['allowed.test'], { privateAllow: LOOPBACK })
    const { status, body, socket } = await connectVia(port, `other.test:${E}`, 'KEY-A')
    expect(status).toBe(403)
    expect(body).toBe(
      `workers-spawner egress proxy: other.test:${E} is not in this worker's network ` +
        'allowlist (WorkerConfig.network.allow)\n',
    )
    expect(seen.denied).toEqual([
      {
        workerId: 'a',
        host: 'other.test',
        port: E,
        reason: expect.any(String),
        code: 'not_allowed',
      },
    ])
    expect(seen.allowed).toEqual([])
    socket.resume()
    await once(socket, 'close')
  })

  it('refuses an allowed name that resolves to a private address (DNS tricks)', async () => {
    // As an allowed `*.nip.io` name would: the name is fine, the address is this machine.
    const { port, seen } = await proxy(['*.nip.test'], {
      resolve: async (host) => (host === 'v6.nip.test' ? ['::ffff:127.0.0.1'] : ['127.0.0.1']),
    })
    for (const name of ['127-0-0-1.nip.test', 'v6.nip.test']) {
      const { status, body } = await connectVia(port, `${name}:${E}`, 'KEY-A')
      expect(status).toBe(403)
      expect(body).toMatch(`${name}:${E} resolves to the private address`)
      expect(body).toMatch(/cloud metadata/)
    }
    expect(seen.denied.map((d) => d.code)).toEqual(['private_address', 'private_address'])
    // An IP literal is no way around it.
    const literal = await proxy(['*'])
    const direct = await connectVia(literal.port, `127.0.0.1:${E}`, 'KEY-A')
    expect(direct.status).toBe(403)
    expect(direct.body).toMatch(`127.0.0.1:${E} is the private address 127.0.0.1`)
    expect((await connectVia(literal.port, `[::1]:${E}`, 'KEY-A')).status).toBe(403)
  })

  it('connects to the checked address, skipping private ones outside privateAllow', async () => {
    // A trap on 127.0.0.2 at the same port: reaching it would mean an unchecked address was used.
    const trap = await echoServer('127.0.0.2', E, 'trap:')
    const { port } = await proxy(['mixed.test'], {
      privateAllow: LOOPBACK,
      resolve: async () => ['127.0.0.2', '127.0.0.1'],
    })
    const { status, socket } = await connectVia(port, `mixed.test:${E}`, 'KEY-A')
    expect(status).toBe(200)
    expect(await roundTrip(socket, 'ping')).toBe('ping')
    socket.destroy()
    trap.close()
  })

  it('holds wildcards to subdomains and ported entries to their port', async () => {
    const { port } = await proxy([`*.wild.test:${E}`], { privateAllow: LOOPBACK })
    const status = async (target: string) => (await connectVia(port, target, 'KEY-A')).status
    expect(await status(`a.wild.test:${E}`)).toBe(200)
    expect(await status(`b.a.WILD.test.:${E}`)).toBe(200)
    expect(await status(`wild.test:${E}`)).toBe(403)
    expect(await status(`a.wild.test:${E === 65_535 ? 1 : E + 1}`)).toBe(403)
  })

  it('asks for a credential with 407, never echoing one', async () => {
    const { port, seen } = await proxy(['*'], { privateAllow: LOOPBACK })
    for (const key of [undefined, 'WRONG-SECRET-KEY', '']) {
      const { status, head, body } = await connectVia(port, `allowed.test:${E}`, key)
      expect(status).toBe(407)
      expect(head).toMatch(/\r\nProxy-Authenticate: Basic realm="workers-spawner"/)
      expect(`${head}${body}`).not.toMatch(/WRONG/)
    }
    expect(seen.denied).toEqual([])
  })

  it('answers 503 when the credential cannot be checked', async () => {
    const { port } = await proxy(['*'], {
      identify: () => Promise.reject(new Error('store down')),
    })
    expect((await connectVia(port, `allowed.test:${E}`, 'KEY-A')).status).toBe(503)
  })

  it('wants host:port', async () => {
    const { port } = await proxy(['*'], { privateAllow: LOOPBACK })
    for (const target of ['allowed.test', 'allowed.test:0', 'allowed.test:70000', 'a b:80']) {
      expect((await connectVia(port, target, 'KEY-A')).status).toBe(400)
    }
  })

  it('answers 502 when the destination cannot be resolved or reached', async () => {
    const closed = await echoServer()
    const dead = portOf(closed)
    await new Promise((r) => closed.close(r))
    const { port } = await proxy(['*'], {
      privateAllow: LOOPBACK,
      connectTimeoutMs: 1_000,
      resolve: async (host) => (host === 'slow.test' ? new Promise(() => {}) : ['127.0.0.1']),
    })
    const refused = await connectVia(port, `allowed.test:${dead}`, 'KEY-A')
    expect(refused.status).toBe(502)
    expect(refused.body).toMatch(/could not be reached \(ECONNREFUSED\)/)
    const slow = await connectVia(port, `slow.test:${E}`, 'KEY-A')
    expect(slow.status).toBe(502)
    expect(slow.body).toMatch(/could not be resolved \(timed out\)/)
  })

  it('caps open tunnels per worker with 429 and frees a slot when one closes', async () => {
    const { port, seen } = await proxy(['allowed.test'], {
      privateAllow: LOOPBACK,
      maxTunnelsPerWorker: 2,
    })
    const open = [
      await connectVia(port, `allowed.test:${E}`, 'KEY-A'),
      await connectVia(port, `allowed.test:${E}`, 'KEY-A'),
    ]
    expect(open.map((o) => o.status)).toEqual([200, 200])
    const third = await connectVia(port, `allowed.test:${E}`, 'KEY-A')
    expect(third.status).toBe(429)
    expect(seen.denied.at(-1)?.code).toBe('too_many_connections')
    open[0]!.socket.destroy()
    await vi.waitFor(async () => {
      const again = await connectVia(port, `allowed.test:${E}`, 'KEY-A')
      again.socket.destroy()
      expect(again.status).toBe(200)
    })
    open[1]!.socket.destroy()
  })

  it('passes half-closes through and closes an idle tunnel', async () => {
    const { port } = await proxy(['allowed.test'], { privateAllow: LOOPBACK, idleTimeoutMs: 300 })
    const half = await connectVia(port, `allowed.test:${E}`, 'KEY-A')
    let got = ''
    half.socket.on('data', (c) => (got += String(c))).resume()
    half.socket.end('last words')
    await once(half.socket, 'end')
    expect(got).toBe('last words')
    const idle = await connectVia(port, `allowed.test:${E}`, 'KEY-A')
    expect(idle.status).toBe(200)
    idle.socket.resume()
    await once(idle.socket, 'close')
  })

  it('serves on a Unix socket too, and passes the server’s own requests through', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ws-egress-'))
    try {
      const { server } = await proxy(['allowed.test'], { privateAllow: LOOPBACK }, join(dir, 's'))
      const { status, socket } = await connectVia(join(dir, 's'), `allowed.test:${E}`, 'KEY-A')
      expect(status).toBe(200)
      expect(await roundTrip(socket, 'unix')).toBe('unix')
      socket.destroy()
      expect(server.listenerCount('request')).toBe(1)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('detaches: open tunnels close, CONNECT is gone, the app keeps its listener', async () => {
    const p = await proxy(['allowed.test'], { privateAllow: LOOPBACK })
    const open = await connectVia(p.port, `allowed.test:${E}`, 'KEY-A')
    expect(open.status).toBe(200)
    open.socket.resume()
    p.detach()
    await once(open.socket, 'close')
    expect(p.server.listenerCount('connect')).toBe(0)
    expect(p.server.listenerCount('request')).toBe(1)
    const res = await fetch(`http://127.0.0.1:${p.port}/v1/whoami`)
    expect(await res.text()).toBe('app /v1/whoami')
    await expect(connectVia(p.port, `allowed.test:${E}`, 'KEY-A')).rejects.toThrow(/closed/)
  })
})
