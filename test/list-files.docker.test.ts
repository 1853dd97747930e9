import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, startHarness, type Harness } from './support/harness.ts'

/**
 * `list_files` (GET /v1/workers/:id/dir) in a real worker: the agent plants links out of the
 * file roots and a huge directory; the listing runs as the worker user, stays inside the roots
 * after links are resolved, and stops at its cap. Through the host agent too (remote project).
 */
describe('listing a directory in a worker', () => {
  let h: Harness
  let http: ReturnType<typeof api>
  let workerId: string

  /** A shell line run by the agent (uid 1000), through the API. */
  const agent = async (line: string): Promise<string> => {
    const res = await http.post(`/v1/workers/${workerId}/commands`, { shell: line })
    expect(res.json.exitCode, res.text).toBe(0)
    return res.json.stdout as string
  }
  const ls = (path: string, limit?: number) =>
    http.get(
      `/v1/workers/${workerId}/dir?path=${encodeURIComponent(path)}` +
        (limit ? `&limit=${limit}` : ''),
    )

  beforeAll(async () => {
    h = await startHarness()
    http = api(h.app)
    const res = await http.post('/v1/workers', {
      agent: 'shell',
      labels: h.runLabel,
      files: { 'TASK.md': '# task\n' },
    })
    expect(res.status, res.text).toBe(201)
    workerId = res.json.workerId
  })
  afterAll(async () => {
    await h?.cleanup()
  })

  it("lists the workdir (a root itself) by default, with the worker's own files", async () => {
    await agent('mkdir -p /workspace/src && printf hello > /workspace/src/a.txt')
    const res = await http.get(`/v1/workers/${workerId}/dir`)
    expect(res.status, res.text).toBe(200)
    expect(res.json.path).toBe('/workspace')
    expect(res.json.truncated).toBe(false)
    const names = res.json.entries.map((e: { name: string }) => e.name)
    expect(names).toEqual(['src', 'TASK.md'])
    const sub = await ls('/workspace/src')
    expect(sub.json.entries).toEqual([
      expect.objectContaining({ name: 'a.txt', type: 'file', size: 5, mode: '0644' }),
    ])
  })

  it('refuses a path outside the roots, and a link that leads out of them', async () => {
    await agent('ln -s /etc /workspace/etc-link && ln -s / /tmp/root-link')
    for (const path of ['/etc', '/', '/workspace/etc-link', '/tmp/root-link/etc']) {
      const res = await ls(path)
      expect(res.status, path).toBe(400)
      expect(res.json.error.code, path).toBe('path_not_allowed')
      expect(res.text, path).not.toMatch(/passwd|shadow/)
    }
    // The link itself is listed for what it is.
    const top = await ls('/workspace')
    expect(top.json.entries).toContainEqual(
      expect.objectContaining({ name: 'etc-link', type: 'symlink', target: '/etc' }),
    )
  })

  it('answers 404 for a missing directory and 400 for a file or an unreadable one', async () => {
    expect((await ls('/workspace/nope')).status).toBe(404)
    expect((await ls('/workspace/TASK.md')).status).toBe(400)
    await agent('mkdir /workspace/closed && chmod 000 /workspace/closed')
    const closed = await ls('/workspace/closed')
    expect(closed.status).toBe(400)
    expect(closed.json.error.code).toBe('permission_denied')
  })

  it('stops a huge directory at the cap and says so', async () => {
    await agent('mkdir /tmp/big && cd /tmp/big && seq 1 20000 | xargs touch')
    const capped = await ls('/tmp/big')
    expect(capped.status).toBe(200)
    expect(capped.json.entries).toHaveLength(1000)
    expect(capped.json.truncated).toBe(true)
    const few = await ls('/tmp/big', 10)
    expect(few.json.entries).toHaveLength(10)
    expect((await ls('/tmp/big', 20_001)).status).toBe(400)
  })
})
