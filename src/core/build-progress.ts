import { z } from 'zod'

/** Where an image build is: begun, a line of its output, done, or failed. */
export const buildPhaseSchema = z.enum(['started', 'progress', 'finished', 'failed'])

/** One piece of an image build's progress, as streamed to a caller and sent as an event. */
export const buildProgressSchema = z.object({
  tag: z.string().describe('the image being built'),
  phase: buildPhaseSchema,
  step: z.number().int().optional().describe('the Dockerfile step under way, from 1'),
  steps: z.number().int().optional().describe('how many steps the Dockerfile has'),
  message: z.string(),
  durationMs: z.number().optional().describe('with finished and failed: how long it took'),
})
export type BuildProgress = z.infer<typeof buildProgressSchema>

/** Called with each piece of a build's progress. */
export type OnBuildProgress = (progress: BuildProgress) => void

// The classic builder says `Step 2/5 : RUN …`; BuildKit's plain output `#6 [ 2/12] RUN …` (the
// stage's name may come first: `[stage 2/5]`).
const CLASSIC = /^Step (\d+)\/(\d+) : /
const BUILDKIT = /^#\d+ \[(?:[^\]\s]+ )?\s*(\d+)\/(\d+)\] /

/** The step a line of build output starts, when it starts one. */
export const stepOf = (line: string): { step: number; steps: number } | undefined => {
  const m = CLASSIC.exec(line) ?? BUILDKIT.exec(line)
  return m ? { step: Number(m[1]), steps: Number(m[2]) } : undefined
}

/**
 * Turns a build's output lines into progress: each line carries the step it belongs to (the
 * last one started), so a reader sees where the build is without keeping state of its own.
 */
export const progressTracker = (tag: string) => {
  let at: { step: number; steps: number } | undefined
  return {
    line(message: string): BuildProgress {
      at = stepOf(message) ?? at
      return { tag, phase: 'progress', ...at, message }
    },
    /** The step the build was at (for a failure's message). */
    get at() {
      return at
    },
  }
}
