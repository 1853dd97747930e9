import { createServer, type Server, type ServerResponse } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { Duplex } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import type { ContainerPipe, ContainerRuntime } from '../core/runtime.ts'
import { previewForwarder } from './preview-forward.ts'

/** A runtime whose relay reaches a TCP port on loopback here instead of inside a container. */
const loopbackRuntime = (): ContainerRuntime =>
  ({
    async pipe(_id: string, req: { argv: string[] }): Promise<ContainerPipe> {
      const socket = connect(Number(req.argv.at(-1)), '127.0.0.1')
      socket.on('error', () => undefined)
      const { readable, writable } = Duplex.toWeb(socket)
      return {
        readable: readable as ReadableStream<Uint8Array>,
        writable: writable as WritableStream<Uint8Array>,
        stderr: Promise.resolve(''),
        close: () => socket.destroy(),
      }
    },
  }) as unknown as ContainerRuntime

const servers: Server[] = []
const held: ServerResponse[] = []
afterEach(() => {
  for (const res of held.splice(0)) res.destroy()
  for (const s of servers.splice(0)) s.close()
})

/** A server that answers with headers and then never ends the body (a stream held open). */
const holdingServer = async () => {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write(': open\n\n')
    held.push(res)
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

describe('previewForwarder', () => {
  it("keeps one worker's held-open previews from taking every connection", async () => {
    const port = await holdingServer()
    const forward = previewForwarder(loopbackRuntime(), {
      headersTimeoutMs: 10_000,
      maxConnections: 8,
    })!
    const to = (workerId: string) =>
      forward(
        { workerId, containerId: `c-${workerId}`, port, path: '/events' },
        new Request('http://localhost/events'),
      )
    // Worker A's page keeps asking; its server answers each and never finishes.
    const outcomes: string[] = []
    for (let i = 0; i < 8; i++) {
      outcomes.push(
        await to('w-a').then(
          (res) => String(res.status),
          (err: { code?: string }) => err.code ?? 'error',
        ),
      )
    }
    expect(outcomes).toContain('too_many_previews')
    // Another worker's preview still gets through.
    const other = await to('w-b')
    expect(other.status).toBe(200)
    await other.body?.cancel()
  })
})
