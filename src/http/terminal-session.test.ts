import { describe, expect, it } from 'vitest'
import { ConflictError } from '../core/errors.ts'
import { noopLogger } from '../core/logger.ts'
import type { Terminal, TerminalRequest } from '../core/runtime.ts'
import { TerminalSessions, type TerminalLimits, type TerminalPeer } from './terminal-session.ts'

/** A shell that records what reaches it; `finish` ends it as the shell would. */
const fakeTerminal = () => {
  const calls: string[] = []
  let finish!: (code: number) => void
  const exited = new Promise<number>((resolve) => (finish = resolve))
  let resizeDone: (() => void) | undefined
  let onOutput: TerminalRequest['onOutput'] = () => {}
  const terminal: Terminal = {
    write: (data) => void calls.push(`write ${String(data)}`),
    resize: (cols, rows) => {
      calls.push(`resize ${cols}x${rows}`)
      return new Promise<void>((resolve) => (resizeDone = resolve))
    },
    pause: () => void calls.push('pause'),
    resume: () => void calls.push('resume'),
    kill: async () => {
      calls.push('kill')
      finish(137)
    },
    exited,
  }
  return {
    terminal,
    calls,
    finish: (code: number) => finish(code),
    finishResize: () => resizeDone?.(),
    output: (text: string) => onOutput(new TextEncoder().encode(text)),
    setOutput: (fn: TerminalRequest['onOutput']) => (onOutput = fn),
  }
}

/** A client's end that records what it was sent and how it was closed. */
const fakePeer = () => {
  const seen: string[] = []
  let closed!: (c: { code: number; reason: string }) => void
  const close = new Promise<{ code: number; reason: string }>((resolve) => (closed = resolve))
  const peer: TerminalPeer = {
    output: (chunk, sent) => {
      seen.push(`output ${new TextDecoder().decode(chunk)}`)
      sent()
    },
    exit: (code) => void seen.push(`exit ${code}`),
    close: (code, reason) => {
      seen.push(`close ${code}`)
      closed({ code, reason })
    },
  }
  return { peer, seen, close }
}

const limits = (l: Partial<TerminalLimits> = {}): TerminalLimits => ({
  idleMs: 60_000,
  maxPerWorker: 8,
  max: 64,
  ...l,
})

/** Starts a session on a fake shell; `opened` settles once the shell is open. */
const start = (sessions: TerminalSessions, workerId = 'w-1', activity: string[] = []) => {
  const shell = fakeTerminal()
  const client = fakePeer()
  let opened!: () => void
  const isOpen = new Promise<void>((resolve) => (opened = resolve))
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  const session = sessions.start(
    {
      workerId,
      open: async (onOutput) => {
        await gate
        shell.setOutput(onOutput)
        opened()
        return shell.terminal
      },
      onActivity: () => void activity.push('active'),
    },
    client.peer,
  )
  return { session, shell, client, isOpen, release }
}

describe('TerminalSessions', () => {
  it('sends the exit frame, then closes 1000, when the shell exits; the slot is freed', async () => {
    const sessions = new TerminalSessions(limits(), noopLogger)
    const t = start(sessions)
    t.release()
    await t.isOpen
    expect(sessions.count('w-1')).toBe(1)
    t.shell.output('hi\r\n')
    t.shell.finish(3)
    expect(await t.client.close).toEqual({ code: 1000, reason: 'shell exited' })
    expect(t.client.seen).toEqual(['output hi\r\n', 'exit 3', 'close 1000'])
    await t.session.done
    expect(sessions.count('w-1')).toBe(0)
  })

  it('keeps frames sent before the shell is open, and applies them in order', async () => {
    const sessions = new TerminalSessions(limits(), noopLogger)
    const t = start(sessions)
    t.session.receive({ type: 'input', data: 'a' })
    t.session.receive({ type: 'input', data: 'b' })
    t.release()
    await t.isOpen
    await Promise.resolve()
    expect(t.shell.calls).toEqual(['write a', 'write b'])
  })

  it('holds input typed after a resize until the resize is done', async () => {
    const sessions = new TerminalSessions(limits(), noopLogger)
    const t = start(sessions)
    t.release()
    await t.isOpen
    await Promise.resolve()
    t.session.receive({ type: 'resize', cols: 120, rows: 40 })
    t.session.receive({ type: 'input', data: 'stty size' })
    await new Promise((resolve) => setImmediate(resolve))
    expect(t.shell.calls).toEqual(['resize 120x40'])
    t.shell.finishResize()
    await new Promise((resolve) => setImmediate(resolve))
    expect(t.shell.calls).toEqual(['resize 120x40', 'write stty size'])
  })

  it('kills the shell when the client goes, and sends it nothing more', async () => {
    const sessions = new TerminalSessions(limits(), noopLogger)
    const t = start(sessions)
    t.release()
    await t.isOpen
    t.session.gone()
    await t.session.done
    expect(t.shell.calls).toContain('kill')
    expect(t.client.seen).toEqual([])
    expect(sessions.count('w-1')).toBe(0)
  })

  it('kills a shell that opens after its client has gone', async () => {
    const sessions = new TerminalSessions(limits(), noopLogger)
    const t = start(sessions)
    t.session.gone()
    t.release()
    await t.session.done
    expect(t.shell.calls).toEqual(['kill'])
  })

  it('closes 4429 too_many_terminals past the cap per worker and in all', async () => {
    const sessions = new TerminalSessions(limits({ maxPerWorker: 1, max: 2 }), noopLogger)
    const first = start(sessions, 'w-1')
    const again = start(sessions, 'w-1')
    expect((await again.client.close).code).toBe(4429)
    expect((await again.client.close).reason).toMatch(/^too_many_terminals: .*PER_WORKER/)
    start(sessions, 'w-2')
    const third = start(sessions, 'w-3')
    expect((await third.client.close).reason).toMatch(/TERMINAL_MAX\)/)
    first.release()
    await first.isOpen
    first.shell.finish(0)
    await first.session.done
    // A slot freed is a slot to take.
    const later = start(sessions, 'w-1')
    later.release()
    await later.isOpen
  })

  it('closes 4408 after idleMs with neither input nor output, after an exit frame', async () => {
    const sessions = new TerminalSessions(limits({ idleMs: 20 }), noopLogger)
    const t = start(sessions)
    t.release()
    const { code, reason } = await t.client.close
    expect(code).toBe(4408)
    expect(reason).toMatch(/idle/)
    expect(t.client.seen).toEqual(['exit 137', 'close 4408'])
  })

  it('counts input and output as activity of the worker', async () => {
    const activity: string[] = []
    const sessions = new TerminalSessions(limits(), noopLogger)
    const t = start(sessions, 'w-1', activity)
    t.release()
    await t.isOpen
    t.session.receive({ type: 'input', data: 'x' })
    await new Promise((resolve) => setImmediate(resolve))
    expect(activity).toEqual(['active'])
  })

  it('closes with the refusal when the shell cannot open', async () => {
    const sessions = new TerminalSessions(limits(), noopLogger)
    const client = fakePeer()
    const session = sessions.start(
      {
        workerId: 'w-1',
        open: async () => {
          throw new ConflictError('no terminals here', 'terminal_unavailable')
        },
        onActivity: () => {},
      },
      client.peer,
    )
    await session.done
    expect(await client.close).toEqual({
      code: 4409,
      reason: 'terminal_unavailable: no terminals here',
    })
    expect(sessions.count('w-1')).toBe(0)
  })

  it('shuts every terminal with 1001 on close', async () => {
    const sessions = new TerminalSessions(limits(), noopLogger)
    const t = start(sessions)
    t.release()
    await t.isOpen
    await sessions.close()
    expect((await t.client.close).code).toBe(1001)
  })
})
