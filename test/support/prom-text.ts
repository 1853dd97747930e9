/** One sample of a Prometheus text exposition. */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y

/**
 * Parses the Prometheus text format (version 0.0.4) strictly: every line a comment, a
 * `# HELP`/`# TYPE` line or a sample; throws naming the first line that is none.
 */
export const parsePromText = (text: string): { samples: Sample[]; types: Map<string, string> } => {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    if (line.startsWith('#')) {
      const type = line.match(/^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/)
      if (type) types.set(type[1]!, type[2]!)
      else if (!/^# HELP \S+ /.test(line) && !/^# /.test(line)) throw new Error(`bad line: ${line}`)
      continue
    }
    const m = line.match(SAMPLE)
    if (!m) throw new Error(`bad sample: ${line}`)
    const labels: Record<string, string> = {}
    const body = m[2] ?? ''
    LABEL.lastIndex = 0
    while (LABEL.lastIndex < body.length) {
      const at = LABEL.lastIndex
      const l = LABEL.exec(body)
      if (!l || l.index !== at) throw new Error(`bad labels: ${line}`)
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    }
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3])
    // Prometheus reads floats as Go does: `NaN` in any case (prom-client writes `Nan`).
    if (Number.isNaN(value) && !/^nan$/i.test(m[3]!)) throw new Error(`bad value: ${line}`)
    samples.push({ name: m[1]!, labels, value })
  }
  return { samples, types }
}

/** The value of the sample named `name` whose labels include `labels` (0 when absent). */
export const sampleValue = (
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number =>
  samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0)
