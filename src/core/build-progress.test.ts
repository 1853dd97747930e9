import { describe, expect, it } from 'vitest'
import { progressTracker, stepOf } from './build-progress.ts'

describe('build progress', () => {
  it("reads the step from the classic builder's and BuildKit's lines", () => {
    expect(stepOf('Step 2/5 : RUN echo hi')).toEqual({ step: 2, steps: 5 })
    expect(stepOf('#6 [ 2/12] RUN apt-get update')).toEqual({ step: 2, steps: 12 })
    expect(stepOf('#7 [stage-1 3/4] COPY a b')).toEqual({ step: 3, steps: 4 })
    expect(stepOf(' ---> Running in 1234')).toBeUndefined()
    expect(stepOf('#6 DONE 0.4s')).toBeUndefined()
  })

  it('carries the last step into the lines after it', () => {
    const t = progressTracker('img')
    expect(t.line('hello')).toEqual({ tag: 'img', phase: 'progress', message: 'hello' })
    t.line('Step 1/2 : FROM base')
    expect(t.line(' ---> abc')).toMatchObject({ step: 1, steps: 2, message: ' ---> abc' })
    expect(t.at).toEqual({ step: 1, steps: 2 })
  })
})
