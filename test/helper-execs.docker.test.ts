import Dockerode from 'dockerode'
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { noopLogger } from '../src/core/logger.ts'
import type { ContainerRuntime } from '../src/core/runtime.ts'
import { startTestRuntime, type TestRuntime } from './support/harness.ts'
import { WORKER_IMAGE } from './setup/docker.global.ts'

const run = promisify(execFile)
const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array) => new TextDecoder().decode(b)

/** Environment for the test's own probes: none of what the container's env may plant. */
const PROBE_ENV = ['-e', 'PATH=/usr/bin:/bin', '-e', 'LD_DEBUG=', '-e', 'LD_DEBUG_OUTPUT=']

/**
 * The commands the service runs inside a worker on its own account (stdin staging, file
 * reads and writes, the kill of a timed-out command) while the agent, uid 1000, plants tools
 * on its PATH, sets loader variables in the container's environment, and stops processes.
 */
describe('helper commands in a worker the agent controls', () => {
  const docker = new Dockerode()
  const label = { 'test-run': randomBytes(4).toString('hex') }
  let rt: TestRuntime
  let runtime: ContainerRuntime
  /** A runtime whose file helpers give up after 3 s. */
  let shortRt: TestRuntime

  beforeAll(async () => {
    rt = await startTestRuntime(docker, noopLogger)
    runtime = rt.runtime
    shortRt = await startTestRuntime(docker, noopLogger, { helperTimeouts: { fileMs: 3000 } })
  })
  afterAll(async () => {
    const mine = await docker.listContainers({
      all: true,
      filters: { label: [`test-run=${label['test-run']}`] },
    })
    for (const c of mine)
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {})
    await rt?.close()
    await shortRt?.close()
  })

  /**
   * A running worker-like container (uid 1000, no capabilities, no new privileges) that only
   * sleeps: nothing of its own runs with its environment.
   */
  const worker = async (env: string[] = []): Promise<string> => {
    const container = await docker.createContainer({
      Image: WORKER_IMAGE,
      Entrypoint: ['/usr/bin/sleep', 'infinity'],
      User: 'worker',
      Env: env,
      Labels: label,
      HostConfig: { CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'] },
    })
    await container.start()
    return container.id
  }
  /** A shell line run in the container as `user`, with the probe environment. */
  const sh = async (id: string, user: string, line: string): Promise<string> =>
    (await run('docker', ['exec', '-u', user, ...PROBE_ENV, id, '/bin/sh', '-c', line])).stdout
  const asRoot = (id: string, line: string) => sh(id, '0', line)
  const asAgent = (id: string, line: string) => sh(id, '1000', line)

  /**
   * Starts a Python script as the agent and waits until it prints `ready`; `exited` then
   * resolves to all the script printed, once it exits.
   */
  const agentScript = async (id: string, script: string): Promise<{ exited: Promise<string> }> => {
    const argv = ['exec', '-u', '1000', ...PROBE_ENV, id, 'python3', '-u', '-c', script]
    const child = spawn('docker', argv)
    let out = ''
    const exited = new Promise<string>((resolve) => child.once('close', () => resolve(out)))
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.startsWith('ready\n')) resolve()
      })
      child.once('close', (code) => reject(new Error(`agent script exited (${code}): ${out}`)))
    })
    return { exited }
  }

  /** Live (not zombie) processes whose command line matches `pattern` (a grep -E pattern). */
  const live = (id: string, pattern: string) =>
    asRoot(id, `ps -eo stat=,args= | grep -E '${pattern}' | grep -v '^Z' || true`)

  it('does not run a stat the agent planted on PATH as root when it stages stdin', async () => {
    const id = await worker()
    await asAgent(
      id,
      'chmod 755 ~; printf \'#!/bin/sh\\nid>/tmp/pwned-as\\nexec /usr/bin/stat "$@"\\n\' ' +
        '> ~/.local/bin/stat; chmod +x ~/.local/bin/stat',
    )
    // The agent's own commands do find it: the plant works.
    expect(await asAgent(id, 'PATH=~/.local/bin:$PATH; stat -c %u /; cat /tmp/pwned-as')).toMatch(
      /^0\nuid=1000/,
    )
    await asAgent(id, 'rm /tmp/pwned-as')
    const result = await runtime.exec(id, { argv: ['cat'], stdin: 'x' })
    expect(result).toMatchObject({ exitCode: 0, stdout: 'x' })
    expect(await asRoot(id, 'cat /tmp/pwned-as 2>&1 || true')).toMatch(/No such file/)
  })

  it('ignores the PATH, shell and loader variables of the container environment', async () => {
    const id = await worker([
      'PATH=/tmp/evil:/usr/bin:/bin',
      'LD_DEBUG=files',
      'LD_DEBUG_OUTPUT=/tmp/ld-debug',
      'BASH_ENV=/tmp/evil/rc',
      'ENV=/tmp/evil/rc',
    ])
    // Every tool a helper might call, recording who ran it, then doing its job. Each user
    // writes a file of its own: /tmp is sticky.
    const uid = '$(/usr/bin/id -u)'
    const record = (what: string) => `echo "${uid} ${what}" >> /tmp/pwned.${uid}`
    const tools = 'env sh stat mkdir grep head cat realpath mktemp chmod mv rm id'
    await asAgent(
      id,
      `mkdir -p /tmp/evil && cd /tmp/evil && for t in ${tools}; do ` +
        `printf '#!/bin/sh\\n${record('${0##*/}')}\\nexec /usr/bin/\${0##*/} "$@"\\n' > $t; ` +
        `chmod +x $t; done; printf '${record('rc')}\\n' > rc`,
    )
    // As an older image has it: the stdin directory is made when first needed.
    await asRoot(id, 'rm -rf /run/workers-spawner')

    const fed = await runtime.exec(id, { argv: ['/usr/bin/tee'], stdin: 'in' })
    expect(fed).toMatchObject({ exitCode: 0, stdout: 'in' })
    await runtime.putFile(id, '/tmp/f.txt', bytes('hello'))
    expect(text(await runtime.getFile(id, '/tmp/f.txt'))).toBe('hello')
    expect(text(await runtime.getFile(id, '/tmp/f.txt', { maxBytes: 100 }))).toBe('hello')
    const asRootOpts = { uid: 0, gid: 0, mode: 0o600 }
    await runtime.putFile(id, '/opt/ws-test/a/state.json', bytes('{}'), asRootOpts)
    const timedOut = await runtime.exec(id, { argv: ['/usr/bin/sleep', '1000'], timeoutMs: 500 })
    expect(timedOut.timedOut).toBe(true)

    expect(await asRoot(id, 'cat /tmp/pwned.* 2>/dev/null || true')).toBe('')
    // The loader read LD_DEBUG only in what runs as the container has it: its sleep, and the
    // commands asked for (tee, sleep) with their stdin wrapper (sh, rm).
    const loaded = await asRoot(id, 'cat /tmp/ld-debug.* | grep -o "needed by [^ ]*" | sort -u')
    expect(loaded).toBe(
      ['/bin/sh', '/usr/bin/rm', '/usr/bin/sleep', '/usr/bin/tee', '']
        .map((p) => p && `needed by ${p}`)
        .join('\n'),
    )
    expect(await asRoot(id, 'find /tmp -name "ld-debug.*" -user 0')).toBe('')

    const made = '/run/workers-spawner /run/workers-spawner/stage /opt/ws-test /opt/ws-test/a'
    expect(await asRoot(id, `stat -c "%u:%g %a" ${made} /opt/ws-test/a/state.json`)).toBe(
      '0:0 755\n0:0 1733\n0:0 755\n0:0 755\n0:0 600\n',
    )
  })

  it('refuses to run helpers where the environment changes what every program does', async () => {
    // Set, even empty, it prints the auxiliary vector before a program's own output.
    const id = await worker(['LD_SHOW_AUXV=1'])
    await asRoot(id, 'echo data > /tmp/f.txt && chmod 644 /tmp/f.txt')
    const read = runtime.getFile(id, '/tmp/f.txt')
    await expect(read).rejects.toMatchObject({ code: 'helper_env_unsafe' })
  })

  // A hang fails these two sooner than the default timeout would.
  const hangs = { timeout: 60_000 }

  it('answers a timed-out command even when the agent stops the kill', hangs, async () => {
    const id = await worker()
    // The agent stops the first kill helper it sees, then leaves.
    const watcher = await agentScript(
      id,
      [
        'import os, signal',
        "mark = b'ws-' + b'kill'",
        'me = os.getpid()',
        "print('ready', flush=True)",
        'while True:',
        "    for p in os.listdir('/proc'):",
        '        if not p.isdigit() or int(p) == me: continue',
        '        try:',
        "            with open('/proc/%s/cmdline' % p, 'rb') as f: cmd = f.read()",
        '        except OSError: continue',
        '        if mark in cmd:',
        '            os.kill(int(p), signal.SIGSTOP)',
        "            print('stopped', p, flush=True)",
        '            raise SystemExit',
      ].join('\n'),
    )
    const result = await runtime.exec(id, { argv: ['sh', '-c', 'sleep 100000'], timeoutMs: 2000 })
    expect(result).toMatchObject({ timedOut: true, exitCode: 124 })
    const stopped = (await watcher.exited).match(/stopped (\d+)/)?.[1]
    expect(stopped, 'the agent stopped a kill helper').toBeDefined()
    expect(await live(id, 'sleep 10000[0]')).toBe('')
  })

  it('answers a file read with an error when the agent stops the reader', hangs, async () => {
    const id = await worker()
    // A write lease on the file: the reader's open() waits and the agent is told, so it
    // stops the reader right there, then lets go of the lease.
    const watcher = await agentScript(
      id,
      [
        'import fcntl, os, signal, sys',
        "path = '/dev/shm/slow'",
        "open(path, 'wb').write(b'content')",
        'fd = os.open(path, os.O_RDWR)',
        'def on_break(sig, frame):',
        '    me = os.getpid()',
        "    for p in os.listdir('/proc'):",
        '        if not p.isdigit() or int(p) == me: continue',
        '        try:',
        "            with open('/proc/%s/cmdline' % p, 'rb') as f: cmd = f.read()",
        '        except OSError: continue',
        '        if path.encode() in cmd:',
        '            os.kill(int(p), signal.SIGSTOP)',
        "            print('stopped', p, flush=True)",
        '    fcntl.fcntl(fd, 1024, fcntl.F_UNLCK)',
        '    sys.exit(0)',
        'signal.signal(signal.SIGIO, on_break)',
        'fcntl.fcntl(fd, 1024, fcntl.F_WRLCK)',
        "print('ready', flush=True)",
        'while True: signal.pause()',
      ].join('\n'),
    )
    const read = shortRt.runtime.getFile(id, '/dev/shm/slow', { maxBytes: 100 })
    await expect(read).rejects.toMatchObject({ code: 'helper_timeout', kind: 'unavailable' })
    expect(await watcher.exited).toMatch(/stopped \d+/)
  })
})
