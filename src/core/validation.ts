import type { z } from 'zod'
import { BadRequestError } from './errors.ts'

/** One zod issue as callers see it: where, and why. */
export interface FieldIssue {
  path: string
  message: string
}

/** Flattens zod issues into `{ path, message }` pairs with dotted paths. */
export const describeIssues = (error: z.ZodError): FieldIssue[] =>
  error.issues.flatMap((issue) => {
    const at = issue.path.map(String)
    // An unknown key is reported at the key itself, so the message names it.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...at, key].join('.'), message: 'unknown key' }))
    }
    return [{ path: at.join('.') || '(root)', message: issue.message }]
  })

/**
 * Parses `input` with `schema`, or throws a BadRequestError whose message names every bad
 * field and whose details carry the zod issues.
 */
export const parseInput = <S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
): z.output<S> => {
  const result = schema.safeParse(input)
  if (result.success) return result.data
  const issues = describeIssues(result.error)
  const summary = issues.map((i) => `${i.path}: ${i.message}`).join('; ')
  throw new BadRequestError(`invalid ${what}: ${summary}`, issues)
}
