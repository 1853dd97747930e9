import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TokenSigner } from '../src/core/auth/jwt.ts'
import { BadRequestError } from '../src/core/errors.ts'
import { LABELS } from '../src/core/labels.ts'
import { canKeepState } from '../src/core/runtime.ts'
import { defineAgent } from '../src/core/plugin/contract.ts'
import { WorkerService } from '../src/core/service.ts'
import { createApp } from '../src/http/app.ts'
import { api, registryWith, startHarness, type Harness } from './support/harness.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'

const run = promisify(execFile)

/**
 * The agent inside a worker plants links that point out of the file roots, then asks the
 * service (over HTTP) to read and write through them: nothing may land in or come out of
 * root's files. One worker, with worker tokens on, and an agent plugin that takes its prompt
 * on stdin.
 */
describe('file operations do not follow links out of the worker', () => {
  let h: Harness
  let http: ReturnType<typeof api>
  let app: ReturnType<typeof createApp>
  let workerId: string
  let containerId: string

  /** A shell line run by the agent (uid 1000), through the API. */
  const agent = async (line: string): Promise<string> => {
    const res = await http.post(`/v1/workers/${workerId}/commands`, { shell: line })
    expect(res.json.exitCode, res.text).toBe(0)
    return res.json.stdout as string
  }
  /** A shell line run as root in the worker (without capabilities, as the worker runs). */
  const asRoot = async (line: string): Promise<string> =>
    (await run('docker', ['exec', '-u', '0', containerId, 'sh', '-c', line])).stdout
  /** Every path under /etc with its owner, to compare before and after an attempt. */
  const etc = () => asRoot('find /etc -xdev -printf "%u %p\\n" | sort')
  const put = (path: string, body: string) =>
    app.request(`/v1/workers/${workerId}/files?path=${encodeURIComponent(path)}`, {
      method: 'PUT',
      body,
    })
  const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error

  beforeAll(async () => {
    const stdinAgent = defineAgent({
      apiVersion: 'v1',
      name: 'stdin-echo',
      version: '1.0.0',
      description: 'replies with the prompt it read from stdin',
      prompt: (req) => ({ argv: ['cat'], stdin: req.prompt }),
      parse: (result) => ({ text: result.stdout, raw: {} }),
    })
    const registry = await registryWith(stdinAgent)
    h = await startHarness({ registry })
    const service = new WorkerService({
      runtime: h.runtime,
      plugins: () => registry,
      baseImage: WORKER_IMAGE,
      hostEnv: process.env,
      tokens: {
        signer: new TokenSigner(randomBytes(32).toString('hex')),
        url: 'http://127.0.0.1:9',
      },
    })
    app = createApp({ service })
    http = api(app)
    // Open: the in-process runtime here serves no worker API socket (the token URL is a dummy).
    const res = await http.post('/v1/workers', {
      agent: 'stdin-echo',
      network: 'open',
      labels: h.runLabel,
      files: { 'TASK.md': '# task\n' },
    })
    expect(res.status, res.text).toBe(201)
    workerId = res.json.workerId
    const [container] = await h.docker.listContainers({
      filters: { label: [`${LABELS.workerId}=${workerId}`] },
    })
    containerId = container!.Id
  })
  afterAll(async () => {
    await h?.cleanup()
  })

  it('writes files for the worker as uid 1000, and follows links that stay inside', async () => {
    expect((await put('/workspace/ok.txt', 'ok')).status).toBe(200)
    await agent('mkdir /workspace/real && ln -s /workspace/real /workspace/in')
    expect((await put('/workspace/in/deep/f.txt', 'in')).status).toBe(200)
    const owners = await agent(
      'stat -c "%u:%g %a %n" /workspace/ok.txt /workspace/TASK.md /workspace/real/deep ' +
        '/workspace/real/deep/f.txt',
    )
    expect(owners).toBe(
      [
        '1000:1000 644 /workspace/ok.txt',
        '1000:1000 644 /workspace/TASK.md',
        '1000:1000 755 /workspace/real/deep',
        '1000:1000 644 /workspace/real/deep/f.txt',
        '',
      ].join('\n'),
    )
    const back = await http.get(`/v1/workers/${workerId}/files?path=/workspace/in/deep/f.txt`)
    expect(back.text).toBe('in')
  })

  it('refuses a write through a link to /etc and writes nothing there', async () => {
    await agent('ln -s /etc /workspace/l')
    const before = await etc()
    const res = await put('/workspace/l/x', 'pwned')
    expect(res.status).toBe(400)
    expect(await errorOf(res)).toMatchObject({
      code: 'path_not_allowed',
      details: [{ path: 'path' }],
    })
    expect(await etc()).toBe(before)
  })

  it('refuses reads through links to /etc/shadow and to the state file', async () => {
    // The state file exists once the TTL was changed.
    expect((await http.patch(`/v1/workers/${workerId}`, { idleSeconds: 0 })).status).toBe(200)
    if (canKeepState(h.runtime)) {
      // Kept on the host instead, where no link reaches: a root-only file stands in for it.
      expect(await asRoot('test -e /etc/workers-spawner.json; echo $?')).toBe('1\n')
      await asRoot('umask 077; printf x > /etc/workers-spawner.json')
    }
    expect(await asRoot('stat -c "%u %a" /etc/workers-spawner.json')).toBe('0 600\n')
    await agent('ln -s /etc/shadow /workspace/shadow; ln -s /etc/workers-spawner.json /tmp/state')
    for (const path of ['/workspace/shadow', '/tmp/state', '/workspace/l/shadow']) {
      const res = await http.get(`/v1/workers/${workerId}/files?path=${path}`)
      expect(res.status, path).toBe(400)
      expect(res.json.error.code, path).toBe('path_not_allowed')
      expect(res.text).not.toMatch(/root:/)
    }
  })

  it('reads and writes as the worker user even without roots', async () => {
    const shadow = h.runtime.getFile(containerId, '/etc/shadow')
    await expect(shadow).rejects.toThrow(BadRequestError)
    await expect(shadow).rejects.toMatchObject({ code: 'permission_denied' })
    const state = h.runtime.getFile(containerId, '/workspace/l/workers-spawner.json')
    await expect(state).rejects.toMatchObject({ code: 'permission_denied' })
    const before = await etc()
    const write = h.runtime.putFile(containerId, '/workspace/l/y', new TextEncoder().encode('y'))
    await expect(write).rejects.toThrow(/Permission denied/)
    expect(await etc()).toBe(before)
  })

  it('keeps stdin for commands out of a directory the agent links to /etc', async () => {
    // Where stdin files went before, and where they go now: the agent cannot touch the latter.
    await agent('rm -rf /tmp/.ws-exec; ln -s /etc /tmp/.ws-exec; test ! -w /run/workers-spawner')
    const before = await etc()
    const res = await http.post(`/v1/workers/${workerId}/commands`, { prompt: 'a prompt on stdin' })
    expect(res.status, res.text).toBe(200)
    expect(res.json.reply.text).toBe('a prompt on stdin')
    expect(await etc()).toBe(before)
    expect(await asRoot('stat -c "%u %a %F" /run/workers-spawner/stage')).toBe('0 1733 directory\n')
  })

  it('does not follow a planted ~/.orchestrator link when it refreshes the token', async () => {
    await agent('rm -rf ~/.orchestrator && ln -s /etc ~/.orchestrator')
    const before = await etc()
    const res = await http.patch(`/v1/workers/${workerId}`, { ttlSeconds: 7200 })
    expect(await etc()).toBe(before)
    // The update holds; only the token file the agent redirected stays stale.
    expect(res.status, res.text).toBe(200)
    expect(res.json.ttlSeconds).toBe(7200)
  })

  it('refreshes the token of a paused worker (resumed to write it as the worker user)', async () => {
    await agent('rm -rf ~/.orchestrator')
    expect((await http.post(`/v1/workers/${workerId}/pause`)).status).toBe(200)
    const res = await http.patch(`/v1/workers/${workerId}`, { ttlSeconds: 9000 })
    expect(res.status, res.text).toBe(200)
    expect(await agent('stat -c "%u %a" ~/.orchestrator/token')).toBe('1000 600\n')
  })
})

describe('the stdin directory in an image that lacks it', () => {
  let h: Harness

  beforeAll(async () => {
    h = await startHarness()
  })
  afterAll(async () => {
    await h?.cleanup()
  })

  /** A shell line run as root in a container. */
  const asRoot = async (id: string, line: string): Promise<string> =>
    (await run('docker', ['exec', '-u', '0', id, 'sh', '-c', line])).stdout

  /** A worker-like container without the stdin directory, as an older image has none. */
  const older = async (): Promise<string> => {
    const container = await h.docker.createContainer({
      Image: WORKER_IMAGE,
      User: 'worker',
      Labels: h.runLabel,
      HostConfig: { CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'] },
    })
    await container.start()
    await asRoot(container.id, 'rm -rf /run/workers-spawner')
    return container.id
  }

  it('is made root-owned with mode 1733 under root-owned parents', async () => {
    const id = await older()
    const result = await h.runtime.exec(id, { argv: ['cat'], stdin: 'in' })
    expect(result).toMatchObject({ exitCode: 0, stdout: 'in' })
    const dirs = '/run/workers-spawner /run/workers-spawner/stage'
    expect(await asRoot(id, `stat -c "%u %a" ${dirs}`)).toBe('0 755\n0 1733\n')
  })

  it('is not made, and nothing is fed, when a parent is open to the worker', async () => {
    const id = await older()
    await asRoot(id, 'chmod 1777 /run')
    // The worker got there first: the directory is its own, and could be a link.
    await h.runtime.exec(id, { argv: ['mkdir', '-p', '/run/workers-spawner/stage'] })
    const result = h.runtime.exec(id, { argv: ['cat'], stdin: 'in' })
    await expect(result).rejects.toMatchObject({ code: 'exec_stdin_dir' })
    expect(await asRoot(id, 'ls -A /run/workers-spawner/stage')).toBe('')
  })
})
