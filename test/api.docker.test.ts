import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineCapability } from '../src/core/plugin/contract.ts'
import { LABELS } from '../src/core/labels.ts'
import { api, registryWith, startHarness, type Harness } from './support/harness.ts'
import { readSseUntil, sseEvents } from './support/sse.ts'

describe('worker lifecycle over HTTP against the real Docker Engine', () => {
  let h: Harness
  let http: ReturnType<typeof api>
  let id: string
  let image: string

  beforeAll(async () => {
    h = await startHarness({ maxFileBytes: 4 * 1024 * 1024 })
    http = api(h.app)
  })
  afterAll(async () => {
    await h?.cleanup()
  })

  it('creates a shell worker with git', async () => {
    const res = await http.post('/v1/workers', {
      agent: 'shell',
      capabilities: ['git'],
      labels: h.runLabel,
      files: { 'TASK.md': '# task\n' },
    })
    expect(res.status, res.text).toBe(201)
    expect(res.json).toMatchObject({ status: 'running' })
    expect(res.json.workerId).toMatch(/^w-[0-9a-f]{16}$/)
    expect(res.json.image).toMatch(/^workers-spawner\/derived:[0-9a-f]{16}$/)
    id = res.json.workerId
    image = res.json.image
    const [container] = await h.containers()
    expect(container?.State).toBe('running')
    expect(container?.Labels[LABELS.workerId]).toBe(id)
  })

  it('reuses the image for a second create with the same plugins', async () => {
    const res = await http.post('/v1/workers', {
      agent: 'shell',
      capabilities: ['git'],
      labels: h.runLabel,
    })
    expect(res.status, res.text).toBe(201)
    expect(res.json.image).toBe(image)
    expect(res.json.imageBuilt).toBe(false)
    expect((await http.del(`/v1/workers/${res.json.workerId}`)).status).toBe(200)
  })

  it('runs a command: git --version exits 0', async () => {
    const res = await http.post(`/v1/workers/${id}/commands`, { argv: ['git', '--version'] })
    expect(res.status, res.text).toBe(200)
    expect(res.json.exitCode).toBe(0)
    expect(res.json.stdout).toMatch(/^git version \d/)
    expect(res.json.timedOut).toBe(false)
  })

  it('separates stdout and stderr and reports the exit code of a shell command', async () => {
    const res = await http.post(`/v1/workers/${id}/commands`, {
      shell: 'echo out; echo err >&2; cat TASK.md; exit 3',
      env: { GREETING: 'x' },
    })
    expect(res.json).toMatchObject({ exitCode: 3, stdout: 'out\n# task\n', stderr: 'err\n' })
  })

  it('sends a prompt to the agent plugin and returns its parsed reply', async () => {
    const res = await http.post(`/v1/workers/${id}/commands`, {
      prompt: 'echo "hello from $(whoami)"',
    })
    expect(res.status, res.text).toBe(200)
    expect(res.json.reply).toMatchObject({ text: 'hello from worker' })
  })

  it('streams output as SSE when asked', async () => {
    const res = await h.app.request(`/v1/workers/${id}/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ shell: 'for i in 1 2 3; do echo line$i; sleep 0.1; done' }),
    })
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/)
    const text = await res.text()
    const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => [
      m[1],
      JSON.parse(m[2]!),
    ])
    const output = events
      .filter(([e]) => e === 'output')
      .map(([, d]) => d.data)
      .join('')
    expect(output).toBe('line1\nline2\nline3\n')
    expect(events.at(-1)?.[0]).toBe('result')
    expect(events.at(-1)?.[1]).toMatchObject({ exitCode: 0, stdout: 'line1\nline2\nline3\n' })
  })

  it("serves the worker's events on GET /v1/events?worker=", async () => {
    const res = await h.app.request(`/v1/events?worker=${id}`)
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/)
    const [, text] = await Promise.all([
      http.post(`/v1/workers/${id}/commands`, { shell: 'echo evented' }),
      readSseUntil(res, 'event: command_exit'),
    ])
    const events = sseEvents(text).map(([, data]) => data)
    expect(events.map((e) => e.type)).toEqual(['output', 'command_exit'])
    expect(events[0]).toMatchObject({ workerId: id, stream: 'stdout', data: 'evented\n', seq: 0 })
    expect(events[1]).toMatchObject({ workerId: id, exitCode: 0, timedOut: false })
  })

  it('round-trips binary files through PUT/GET and through the JSON commands', async () => {
    const bytes = new Uint8Array([...Array(256).keys(), ...randomBytes(300_000)])
    const put = await h.app.request(
      `/v1/workers/${id}/files?path=/workspace/data/blob.bin&mode=0600`,
      {
        method: 'PUT',
        body: bytes,
      },
    )
    expect(put.status, await put.clone().text()).toBe(200)
    expect(await put.json()).toEqual({ path: '/workspace/data/blob.bin', size: bytes.length })
    const got = await h.app.request(`/v1/workers/${id}/files?path=/workspace/data/blob.bin`)
    expect(got.headers.get('content-type')).toBe('application/octet-stream')
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(bytes)

    const stat = await http.post(`/v1/workers/${id}/commands`, {
      shell: 'stat -c "%a %u" data/blob.bin',
    })
    expect(stat.json.stdout.trim()).toBe('600 1000')

    const asJson = await h.app.request(`/v1/workers/${id}/files?path=/workspace/data/blob.bin`, {
      headers: { accept: 'application/json' },
    })
    const body = (await asJson.json()) as { encoding: string; content: string; size: number }
    expect(body.encoding).toBe('base64')
    expect(new Uint8Array(Buffer.from(body.content, 'base64'))).toEqual(bytes)

    const viaCommand = await h.service.sendFile({
      workerId: id,
      path: '/tmp/small.bin',
      content: Buffer.from([0, 255, 10, 13]).toString('base64'),
      encoding: 'base64',
    })
    expect(viaCommand.size).toBe(4)
    const back = await h.service.readFile({
      workerId: id,
      path: '/tmp/small.bin',
      encoding: 'base64',
    })
    expect(Buffer.from(back.content, 'base64')).toEqual(Buffer.from([0, 255, 10, 13]))
  })

  it('returns container logs', async () => {
    const res = await http.get(`/v1/workers/${id}/logs?tail=50`)
    expect(res.status, res.text).toBe(200)
    expect(res.json.lines.map((l: { text: string }) => l.text)).toContain('workers-spawner: ready')
  })

  it('follows the log as SSE with follow=1', async () => {
    const res = await h.app.request(`/v1/workers/${id}/logs?follow=1&tail=20`)
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/)
    const text = await readSseUntil(res, 'workers-spawner: ready')
    const lines = sseEvents(text)
      .filter(([e]) => e === 'log')
      .map(([, d]) => d.text)
    expect(lines).toContain('workers-spawner: ready')
  })

  it('reports status and lists the worker', async () => {
    const status = await http.get(`/v1/workers/${id}`)
    expect(status.json).toMatchObject({
      workerId: id,
      state: 'running',
      agent: 'shell',
      capabilities: ['git'],
      commandRunning: false,
      agentState: 'idle',
      ttlSeconds: 86_400,
    })
    const list = await http.get(`/v1/workers?label=test-run=${h.runLabel['test-run']}`)
    expect(list.json.workers.map((w: { workerId: string }) => w.workerId)).toEqual([id])
  })

  it('pauses (Docker reports it paused) and a command resumes it', async () => {
    const paused = await http.post(`/v1/workers/${id}/pause`)
    expect(paused.json).toEqual({ workerId: id, state: 'paused' })
    const [container] = await h.containers()
    expect(container?.State).toBe('paused')
    expect((await http.get(`/v1/workers/${id}`)).json.state).toBe('paused')

    const res = await http.post(`/v1/workers/${id}/commands`, { shell: 'echo awake' })
    expect(res.json).toMatchObject({ exitCode: 0, stdout: 'awake\n' })
    const [after] = await h.containers()
    expect(after?.State).toBe('running')
  })

  it('also resumes a worker paused behind its back', async () => {
    const [container] = await h.containers()
    await h.docker.getContainer(container!.Id).pause()
    const res = await http.post(`/v1/workers/${id}/commands`, { shell: 'echo still-here' })
    expect(res.json.stdout).toBe('still-here\n')
  })

  it('kills a command that outlives timeoutMs, with everything it started', async () => {
    const started = Date.now()
    const res = await http.post(`/v1/workers/${id}/commands`, {
      shell: 'sleep 301 & sleep 302; echo never',
      timeoutMs: 1000,
    })
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({ timedOut: true, exitCode: 124, stdout: '' })
    expect(Date.now() - started).toBeLessThan(15_000)
    const ps = await http.post(`/v1/workers/${id}/commands`, {
      shell: 'cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " "',
    })
    expect(ps.json.stdout).not.toMatch(/sleep 30[12]/)
  })

  it('updates TTL and idle time', async () => {
    const res = await http.patch(`/v1/workers/${id}`, { ttlSeconds: 7200, idleSeconds: 0 })
    expect(res.json).toMatchObject({ ttlSeconds: 7200, idleSeconds: 0, idleDeadline: null })
  })

  describe('bad input changes nothing', () => {
    const countContainers = async () => (await h.containers()).length

    it.each([
      ['unknown agent', { agent: 'ghost-agent' }, 404, /ghost-agent/],
      ['unknown capability', { agent: 'shell', capabilities: ['ghost-cap'] }, 404, /ghost-cap/],
      ['unknown config key', { agent: 'shell', colour: 'red' }, 400, /colour/],
      [
        'wrong types',
        { agent: 'shell', capabilities: 'git', ttlSeconds: -1 },
        400,
        /capabilities.*ttlSeconds/,
      ],
    ])('create with %s', async (_name, body, status, message) => {
      const before = await countContainers()
      const res = await http.post('/v1/workers', { ...body, labels: h.runLabel })
      expect(res.status).toBe(status)
      expect(res.json.error.message).toMatch(message)
      expect(await countContainers()).toBe(before)
    })

    it('more CPUs than the host has is a 400 naming resources.cpus, not a Docker error', async () => {
      const before = await countContainers()
      const res = await http.post('/v1/workers', {
        agent: 'shell',
        resources: { cpus: 256 },
        labels: h.runLabel,
      })
      expect(res.status, res.text).toBe(400)
      expect(res.json.error.details).toEqual([
        { path: 'resources.cpus', message: expect.stringMatching(/CPU/) },
      ])
      expect(await countContainers()).toBe(before)
    })

    it('docker capability without sysbox-runc is refused, never privileged', async () => {
      const before = await countContainers()
      const res = await http.post('/v1/workers', {
        agent: 'shell',
        capabilities: ['docker'],
        labels: h.runLabel,
      })
      expect(res.status).toBe(400)
      expect(res.json.error.code).toBe('runtime_unavailable')
      expect(res.json.error.message).toMatch(/sysbox-runc/)
      expect(res.json.error.message).toMatch(/[Ii]nstall/)
      expect(await countContainers()).toBe(before)
    })

    it('a missing worker is a 404 on every worker route', async () => {
      const ghost = 'w-00000000deadbeef'
      for (const [method, path] of [
        ['GET', `/v1/workers/${ghost}`],
        ['POST', `/v1/workers/${ghost}/pause`],
        ['DELETE', `/v1/workers/${ghost}`],
        ['GET', `/v1/workers/${ghost}/logs`],
      ] as const) {
        const res = await http.call(method, path)
        expect(res.status, `${method} ${path}`).toBe(404)
        expect(res.json.error.code).toBe('worker_not_found')
      }
      const cmd = await http.post(`/v1/workers/${ghost}/commands`, { shell: 'true' })
      expect(cmd.status).toBe(404)
    })

    it.each([
      'relative.txt',
      '/workspace/../etc/passwd',
      '/etc/passwd',
      '/workspace/a/../../root/x',
    ])('file path %s outside the allowed roots', async (path) => {
      const put = await h.app.request(`/v1/workers/${id}/files?path=${encodeURIComponent(path)}`, {
        method: 'PUT',
        body: 'x',
      })
      expect(put.status).toBe(400)
      const err = (await put.json()) as { error: { message: string } }
      expect(err.error.message).toMatch(/path/)
      const get = await http.get(`/v1/workers/${id}/files?path=${encodeURIComponent(path)}`)
      expect(get.status).toBe(400)
    })

    it('a file body over the cap is 413 and nothing is written', async () => {
      const res = await h.app.request(`/v1/workers/${id}/files?path=/workspace/big.bin`, {
        method: 'PUT',
        body: new Uint8Array(4 * 1024 * 1024 + 1),
      })
      expect(res.status).toBe(413)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
        'payload_too_large',
      )
      const check = await http.post(`/v1/workers/${id}/commands`, {
        shell: 'test -e /workspace/big.bin; echo $?',
      })
      expect(check.json.stdout).toBe('1\n')
    })

    it('a missing file is a 404 and a directory a 400', async () => {
      expect((await http.get(`/v1/workers/${id}/files?path=/workspace/nope.txt`)).status).toBe(404)
      expect((await http.get(`/v1/workers/${id}/files?path=/workspace/data`)).status).toBe(400)
    })
  })

  it('deletes the worker and leaves no container with its labels', async () => {
    const res = await http.del(`/v1/workers/${id}`)
    expect(res.json).toEqual({ workerId: id, deleted: true, children: [] })
    const left = await h.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.workerId}=${id}`] },
    })
    expect(left).toEqual([])
    expect((await http.get(`/v1/workers/${id}`)).status).toBe(404)
  })
})

describe('derived images', () => {
  it('ten concurrent creates with the same plugins build the image once', async () => {
    const nonce = randomBytes(6).toString('hex')
    const registry = await registryWith(
      defineCapability({
        apiVersion: 'v1',
        name: 'nonce',
        version: '1.0.0',
        description: 'a capability whose image no earlier run built',
        install: [{ run: `echo ${nonce} > /etc/workers-spawner-nonce` }],
      }),
    )
    const h = await startHarness({ registry })
    let tag: string | undefined
    try {
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          h.service.create({
            config: h.service.parseConfig({
              agent: 'shell',
              capabilities: ['nonce'],
              labels: h.runLabel,
            }),
          }),
        ),
      )
      tag = results[0]!.image
      expect(new Set(results.map((r) => r.image)).size).toBe(1)
      expect(results.filter((r) => r.imageBuilt)).toHaveLength(1)
      const out = await h.service.sendCommand({
        workerId: results[9]!.workerId,
        argv: ['cat', '/etc/workers-spawner-nonce'],
        timeoutMs: 10_000,
      })
      expect(out.stdout.trim()).toBe(nonce)
      expect(await h.containers()).toHaveLength(10)
      await h.docker.getImage(results[0]!.image).inspect()
    } finally {
      await h.cleanup()
      // Each run makes a new nonce image; drop it so runs do not pile images up.
      if (tag)
        await h.docker
          .getImage(tag)
          .remove({ force: true })
          .catch(() => undefined)
    }
  })
})
