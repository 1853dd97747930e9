import { networkInterfaces } from 'node:os'
import { beforeEach, describe, expect, it, vi } from 'vitest'

// No connection leaves this machine: every connect is recorded and fails at once.
const connects: { host: string; port: number }[] = []
vi.mock('node:net', async (importOriginal) => {
  const net = await importOriginal<typeof import('node:net')>()
  const connect = (opts: { host: string; port: number }) => {
    connects.push({ host: opts.host, port: opts.port })
    const socket = new net.Socket()
    queueMicrotask(() =>
      socket.destroy(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })),
    )
    return socket
  }
  return { ...net, connect }
})

const { dial, machineAddresses } = await import('./egress-dial.ts')

/** A public address standing for one of this machine's interfaces. */
const OWN = '100.128.0.1'

const policy = (resolved: string[]) => ({
  hosts: new Map<string, string>(),
  privateAllow: [],
  resolve: () => Promise.resolve(resolved),
  connectTimeoutMs: 1000,
  local: () => ['127.0.0.1', OWN, '2600:1f00::7'],
})

beforeEach(() => void connects.splice(0))

describe('egress dial', () => {
  it("refuses the machine's own addresses, public ones too: services bound to all interfaces answer there", async () => {
    for (const [host, resolved] of [
      ['own.example', [OWN]],
      [OWN, []],
      ['[2600:1f00::7]', []],
      ['v6.example', ['2600:1f00::7']],
    ] as const) {
      expect(await dial(host, 6379, policy([...resolved]))).toMatchObject({
        status: 403,
        code: 'private_address',
      })
    }
    expect(connects).toEqual([])
  })

  it('still connects to a public address of another machine', async () => {
    expect(await dial('other.example', 443, policy(['100.128.0.2']))).toMatchObject({
      status: 502,
    })
    expect(connects).toEqual([{ host: '100.128.0.2', port: 443 }])
  })

  it("knows this machine's addresses from its interfaces", () => {
    const all = Object.values(networkInterfaces()).flatMap((i) => i ?? [])
    expect(machineAddresses()).toEqual(expect.arrayContaining(all.map((i) => i.address)))
  })
})
