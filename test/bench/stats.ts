/** Small statistics for benchmark samples (milliseconds). */
export const percentile = (samples: readonly number[], p: number): number => {
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? NaN
}

export const median = (samples: readonly number[]) => percentile(samples, 50)

export const fmt = (ms: number) => `${ms.toFixed(1)} ms`

/** One row: median and p95 of ours and of the baseline, and their ratios. */
export const compare = (
  name: string,
  ours: readonly number[],
  baseline: readonly number[],
  baselineName: string,
) => ({
  name,
  n: ours.length,
  ours: { median: median(ours), p95: percentile(ours, 95) },
  baseline: { name: baselineName, median: median(baseline), p95: percentile(baseline, 95) },
  ratioMedian: median(ours) / median(baseline),
  ratioP95: percentile(ours, 95) / percentile(baseline, 95),
})
