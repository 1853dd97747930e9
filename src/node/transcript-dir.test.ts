import { mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MemorySessionStore } from '../core/transcripts-memory.ts'
import {
  MAX_SESSION_ARCHIVE_BYTES,
  MAX_TURN_BYTES,
  MAX_TURN_UPDATES,
  type NewTurn,
  type SessionStore,
} from '../core/transcripts.ts'
import { DirSessionStore } from './transcript-dir.ts'

const W1 = 'w-0000000000000001'
const W2 = 'w-0000000000000002'
const DAY = 86_400_000
const turn = (prompt: string, sessionId = 's-1'): NewTurn => ({
  at: new Date(0).toISOString(),
  sessionId,
  prompt,
  reply: { text: `re ${prompt}` },
  updates: [{ sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: prompt } }],
})
const rejection = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: Error) => e,
  )

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
const dirStore = () => {
  const dir = mkdtempSync(join(tmpdir(), 'transcripts-'))
  dirs.push(dir)
  return { store: new DirSessionStore(dir, { retentionDays: 30 }), dir }
}

/** What every store does, whatever keeps it. */
const contract = (name: string, make: () => SessionStore) =>
  describe(`${name}: the SessionStore contract`, () => {
    it('numbers turns, filters by session, keeps archives whole', async () => {
      const store = make()
      expect(await store.turns(W1)).toEqual([])
      expect((await store.appendTurn(W1, turn('a'))).n).toBe(1)
      await Promise.all([store.appendTurn(W1, turn('b', 's-2')), store.appendTurn(W1, turn('c'))])
      const all = await store.turns(W1)
      expect(all.map((t) => t.n)).toEqual([1, 2, 3])
      expect((await store.turns(W1, { sessionId: 's-2' })).map((t) => t.prompt)).toEqual(['b'])
      const archive = new Uint8Array([0, 1, 255])
      await store.saveSession(W1, 's-1', archive)
      expect(await store.loadSession(W1, 's-1')).toEqual(archive)
      expect(await store.loadSession(W1, 's-9')).toBeUndefined()
      expect(await store.loadSession(W2, 's-1')).toBeUndefined()
    })

    it('refuses ids that are not a worker or session id, and archives over the cap', async () => {
      const store = make()
      for (const bad of ['../etc', 'w-../../x', '', 'W-0000000000000001', `${W1}/x`])
        expect(await rejection(store.appendTurn(bad, turn('x')))).toMatchObject({
          code: 'bad_request',
        })
      for (const bad of ['../x', '.hidden', 'a/b', '', 'x'.repeat(129), 'a\0b'])
        expect(await rejection(store.saveSession(W1, bad, new Uint8Array(1)))).toMatchObject({
          code: 'bad_request',
        })
      const big = new Uint8Array(MAX_SESSION_ARCHIVE_BYTES + 1)
      expect(await rejection(store.saveSession(W1, 's-1', big))).toMatchObject({
        code: 'payload_too_large',
      })
      expect(await store.loadSession(W1, 's-1')).toBeUndefined()
    })

    it('caps the updates and the size of a turn, and counts what it dropped', async () => {
      const store = make()
      const many = { ...turn('m'), updates: Array(MAX_TURN_UPDATES + 5).fill(turn('m').updates[0]) }
      const kept = await store.appendTurn(W1, many)
      expect([kept.updates.length, kept.updatesDropped]).toEqual([MAX_TURN_UPDATES, 5])
      const huge = { ...turn('h'), prompt: 'p'.repeat(MAX_TURN_BYTES) }
      const cut = await store.appendTurn(W1, huge)
      expect(JSON.stringify(cut).length).toBeLessThan(MAX_TURN_BYTES)
      expect([cut.updates.length, cut.updatesDropped]).toEqual([0, 1])
      expect((await store.turns(W1)).map((t) => t.n)).toEqual([1, 2])
    })

    it('copies turns up to one and the archives, the target numbering on', async () => {
      const store = make()
      await store.appendTurn(W1, turn('a'))
      await store.appendTurn(W1, turn('b'))
      await store.appendTurn(W1, turn('c'))
      await store.saveSession(W1, 's-1', new Uint8Array([7]))
      await store.copy(W1, W2, { upToTurn: 2 })
      await store.appendTurn(W2, turn('d'))
      const copied = await store.turns(W2)
      expect(copied.map((t) => [t.n, t.prompt, t.from])).toEqual([
        [1, 'a', W1],
        [2, 'b', W1],
        [3, 'd', undefined],
      ])
      expect(await store.loadSession(W2, 's-1')).toEqual(new Uint8Array([7]))
      expect(await rejection(store.copy('nope', W2))).toMatchObject({ code: 'bad_request' })
    })

    it('keeps whose transcript it is', async () => {
      const store = make()
      expect(await store.owner(W1)).toBeUndefined()
      const owner = { agent: 'claude-code', workdir: '/workspace', ancestors: [W2] }
      await store.setOwner(W1, owner)
      expect(await store.owner(W1)).toEqual(owner)
    })
  })

contract('DirSessionStore', () => dirStore().store)
contract('MemorySessionStore', () => new MemorySessionStore())

describe('DirSessionStore on disk', () => {
  it('prunes folders not written within the retention period, nothing else', async () => {
    const { store, dir } = dirStore()
    await store.appendTurn(W1, turn('old'))
    await store.appendTurn(W2, turn('new'))
    writeFileSync(join(dir, 'not-a-worker'), 'x')
    const old = new Date(Date.now() - 31 * DAY)
    utimesSync(join(dir, W1), old, old)
    await store.prune(new Date())
    expect(readdirSync(dir).sort()).toEqual(['not-a-worker', W2])
    expect(await store.turns(W1)).toEqual([])
    // A worker written to again after a prune starts over.
    expect((await store.appendTurn(W1, turn('again'))).n).toBe(1)
  })

  it('keeps its folders private and passes over lines that are not turns', async () => {
    const { store, dir } = dirStore()
    await store.appendTurn(W1, turn('a'))
    await store.saveSession(W1, 's-1', new Uint8Array([1]))
    expect(statSync(join(dir, W1)).mode & 0o777).toBe(0o700)
    expect(statSync(join(dir, W1, 'sessions', 's-1.tgz')).mode & 0o777).toBe(0o600)
    writeFileSync(join(dir, W1, 'turns.jsonl'), '{"n":"x"}\nnot json\n', { flag: 'a' })
    expect((await store.turns(W1)).map((t) => t.prompt)).toEqual(['a'])
  })

  it('reads the numbering back after a restart', async () => {
    const { store, dir } = dirStore()
    await store.appendTurn(W1, turn('a'))
    const again = new DirSessionStore(dir, { retentionDays: 30 })
    expect((await again.appendTurn(W1, turn('b'))).n).toBe(2)
  })
})

/** Bytes of every file under `dir`. */
const bytesUnder = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => {
    const path = join(dir, e.name)
    return sum + (e.isDirectory() ? bytesUnder(path) : statSync(path).size)
  }, 0)

describe('DirSessionStore size cap', () => {
  const capped = (maxBytes: number) => {
    const dir = mkdtempSync(join(tmpdir(), 'transcripts-'))
    dirs.push(dir)
    return { store: new DirSessionStore(dir, { retentionDays: 30, maxBytes }), dir }
  }
  const worker = (i: number) => `w-${i.toString(16).padStart(16, '0')}`

  it('stays under maxBytes across many workers, dropping the least recently written', async () => {
    const { store, dir } = capped(10_000)
    for (let i = 1; i <= 20; i++) {
      await store.appendTurn(worker(i), turn(`turn ${i}`))
      await store.saveSession(worker(i), 's-1', new Uint8Array(2_000))
    }
    expect(bytesUnder(dir)).toBeLessThanOrEqual(10_000)
    expect(await store.loadSession(worker(20), 's-1')).toHaveLength(2_000)
    expect(await store.turns(worker(1))).toEqual([])
  })

  it("refuses what would put one worker's own folder over maxBytes", async () => {
    const { store, dir } = capped(10_000)
    const errors: unknown[] = []
    for (let i = 1; i <= 20; i++)
      await store.saveSession(W1, `s-${i}`, new Uint8Array(2_000)).catch((e) => errors.push(e))
    expect(bytesUnder(dir)).toBeLessThanOrEqual(10_000)
    expect(errors.length).toBeGreaterThan(0)
    expect(errors[0]).toMatchObject({ code: 'payload_too_large' })
  })

  it('counts copies (forks, resumes) against the cap', async () => {
    const { store, dir } = capped(10_000)
    await store.saveSession(W1, 's-1', new Uint8Array(4_000))
    for (let i = 2; i <= 10; i++) await store.copy(W1, worker(i))
    expect(bytesUnder(dir)).toBeLessThanOrEqual(10_000)
  })
})

describe('MemorySessionStore size cap', () => {
  it("refuses archives that would put one worker's own over maxBytes", async () => {
    const store = new MemorySessionStore({ maxBytes: 10_000 })
    const errors: unknown[] = []
    for (let i = 1; i <= 20; i++)
      await store.saveSession(W1, `s-${i}`, new Uint8Array(2_000)).catch((e) => errors.push(e))
    let held = 0
    for (let i = 1; i <= 20; i++) held += (await store.loadSession(W1, `s-${i}`))?.length ?? 0
    expect(held).toBeLessThanOrEqual(10_000)
    expect(errors[0]).toMatchObject({ code: 'payload_too_large' })
  })
})

describe('MemorySessionStore retention', () => {
  it('forgets transcripts not written within the retention period', async () => {
    let now = new Date('2026-01-01T00:00:00Z')
    const store = new MemorySessionStore({ retentionDays: 2, now: () => now })
    await store.appendTurn(W1, turn('a'))
    now = new Date(now.getTime() + DAY)
    await store.appendTurn(W2, turn('b'))
    await store.prune(new Date(now.getTime() + 1.5 * DAY))
    expect(await store.turns(W1)).toEqual([])
    expect(await store.turns(W2)).toHaveLength(1)
  })
})
