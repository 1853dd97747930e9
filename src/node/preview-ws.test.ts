import { connect, type AddressInfo } from 'node:net'
import { Duplex } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { noopLogger } from '../core/logger.ts'
import type { ContainerPipe, PipingRuntime } from '../core/runtime.ts'
import { Relay } from './preview-ws.ts'

const MiB = 1024 * 1024
const limits = { headersTimeoutMs: 10_000, maxConnections: 8 }

/** A runtime whose relay reaches a TCP port on loopback here instead of inside a container. */
const loopbackRuntime = (port: number): PipingRuntime => ({
  async pipe(): Promise<ContainerPipe> {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => undefined)
    const { readable, writable } = Duplex.toWeb(socket)
    return {
      readable: readable as ReadableStream<Uint8Array>,
      writable: writable as WritableStream<Uint8Array>,
      stderr: Promise.resolve(''),
      close: () => socket.destroy(),
    }
  },
})

const listening = async (server: WebSocketServer) =>
  new Promise<number>((resolve) =>
    server.on('listening', () => resolve((server.address() as AddressInfo).port)),
  )

const closers: (() => void)[] = []
afterEach(() => {
  for (const close of closers.splice(0)) close()
})

describe('Relay', () => {
  it('stops reading the worker while the browser is not reading, instead of queueing it all', async () => {
    // The worker's server: 32 MiB, one message at a time, each once the last has left.
    const TOTAL = 32
    let sent = 0
    let allSent!: () => void
    const flooded = new Promise<void>((resolve) => (allSent = resolve))
    const worker = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    closers.push(() => worker.close())
    worker.on('connection', (ws) => {
      const chunk = Buffer.alloc(MiB, 7)
      const next = () => {
        if (sent === TOTAL) return allSent()
        ws.send(chunk, { binary: true }, (err) => {
          if (err) return
          sent++
          next()
        })
      }
      next()
    })
    const workerPort = await listening(worker)

    // The service's side of the browser's socket, and a browser that reads nothing.
    const service = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    closers.push(() => service.close())
    const servicePort = await listening(service)
    const accepted = new Promise<WebSocket>((resolve) => service.on('connection', resolve))
    const browser = new WebSocket(`ws://127.0.0.1:${servicePort}/`)
    closers.push(() => browser.terminate())
    await new Promise((resolve) => browser.once('open', resolve))
    browser.pause()
    const raw = await accepted
    closers.push(() => raw.terminate())

    const target = { workerId: 'w-1', containerId: 'c-1', port: workerPort, path: '/' }
    const relay = new Relay(loopbackRuntime(workerPort), target, [], {}, limits, noopLogger)
    // Done once the worker has sent everything, or once the relay holds the worker back.
    const settled = new Promise<void>((resolve) => {
      void flooded.then(resolve)
      const send = raw.send.bind(raw)
      raw.send = ((...args: Parameters<typeof raw.send>) => {
        send(...args)
        // The relay decides after each send whether to hold the worker back.
        queueMicrotask(() => {
          if ((relay as unknown as { backpressured?: boolean }).backpressured) resolve()
        })
      }) as typeof raw.send
    })
    await relay.open({
      get readyState() {
        return raw.readyState
      },
      close: (code, reason) => raw.close(code, reason),
      raw,
    })
    await settled
    // What the service holds for the browser stays near the high-water mark: the rest waits
    // in the worker, whose problem it is.
    expect(raw.bufferedAmount).toBeLessThanOrEqual(4 * MiB)
    expect(sent).toBeLessThan(TOTAL)

    // Once the browser reads again, everything arrives.
    let received = 0
    const all = new Promise<void>((resolve) =>
      browser.on('message', () => {
        if (++received === TOTAL) resolve()
      }),
    )
    browser.resume()
    await all
    expect(sent).toBe(TOTAL)
  })
})
