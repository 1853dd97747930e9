/**
 * The long fuzz run: `npm run fuzz`. Drives the HTTP API and the Redis consumer with inputs
 * generated from the command catalog's schemas (see test/fuzz/), then prints answers by status
 * and code. Exits 1 on the first broken invariant, with the seed and path that replay it.
 *
 *   FUZZ_RUNS=20000 npm run fuzz                  # requests per HTTP target, batches for Redis
 *   FUZZ_TARGETS=http,redis,docker npm run fuzz   # default: http,redis (memory runtime)
 *   FUZZ_SEED=… FUZZ_PATH=… npm run fuzz          # replay a failure
 *
 * `redis` needs Redis (REDIS_URL, default redis://127.0.0.1:6379); `docker` needs Docker and the
 * worker image, and removes the containers it made.
 */
import { dockerTarget } from '../test/fuzz/docker-target.ts'
import { fuzzHttp } from '../test/fuzz/http-fuzz.ts'
import { Tally } from '../test/fuzz/invariants.ts'
import { fuzzOptions } from '../test/fuzz/property.ts'
import { fuzzRedis } from '../test/fuzz/redis-fuzz.ts'
import { memoryTarget } from '../test/fuzz/target.ts'

const targets = (process.env.FUZZ_TARGETS ?? 'http,redis')
  .split(',')
  .map((t) => t.trim())
  .filter(Boolean)
const unknown = targets.filter((t) => !['http', 'redis', 'docker'].includes(t))
if (unknown.length) {
  console.error(`FUZZ_TARGETS: unknown target(s) ${unknown.join(', ')} (use http, redis, docker)`)
  process.exit(2)
}

const runTarget = async (name: string): Promise<Tally> => {
  if (name === 'http') return fuzzHttp(await memoryTarget(), fuzzOptions(5000))
  if (name === 'redis') return fuzzRedis(await memoryTarget(), fuzzOptions(500))
  const docker = await dockerTarget()
  try {
    return await fuzzHttp(docker, fuzzOptions(1000))
  } finally {
    await docker.cleanup()
  }
}

let failed = false
for (const name of targets) {
  const started = performance.now()
  console.log(`fuzz ${name}: running`)
  try {
    const tally = await runTarget(name)
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    const unit = name === 'redis' ? 'entries' : 'requests'
    console.log(
      `fuzz ${name}: ${tally.total} ${unit} in ${seconds} s, no invariant broken\n${tally}\n`,
    )
  } catch (err) {
    failed = true
    console.error(`fuzz ${name}: FAILED\n${err instanceof Error ? err.message : String(err)}\n`)
  }
}
process.exit(failed ? 1 : 0)
