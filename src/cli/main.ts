#!/usr/bin/env node
import { readFile } from 'node:fs/promises'
import { run } from './run.ts'
import { unixFetch } from './unix-fetch.ts'

const readAll = async (stream: NodeJS.ReadableStream) => {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  return new Uint8Array(Buffer.concat(chunks))
}

const code = await run(process.argv.slice(2), {
  env: process.env,
  fetch,
  unixFetch,
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  readFile: async (p) => new Uint8Array(await readFile(p)),
  readStdin: () => readAll(process.stdin),
  readToken: async () => {
    const file = `${process.env.HOME ?? '/home/worker'}/.orchestrator/token`
    try {
      return (await readFile(file, 'utf8')).trim() || undefined
    } catch {
      return undefined
    }
  },
})
process.exitCode = code
