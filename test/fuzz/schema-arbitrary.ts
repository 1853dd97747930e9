import fc from 'fast-check'
import { z } from 'zod'

/** The part of JSON Schema that `z.toJSONSchema` writes for the catalog's input schemas. */
export interface JsonSchema {
  type?: string
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: boolean | JsonSchema
  propertyNames?: JsonSchema
  items?: JsonSchema
  minItems?: number
  maxItems?: number
  minLength?: number
  maxLength?: number
  pattern?: string
  enum?: unknown[]
  const?: unknown
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  exclusiveMaximum?: number
}

/**
 * Values a property of this name should sometimes take, besides what its schema allows at
 * random: a random string is never the name of a plugin or of a worker that exists.
 */
export type Hints = Record<string, fc.Arbitrary<unknown>>

/** The JSON Schema of a zod schema as callers send it (before defaults and transforms). */
export const inputJsonSchema = (schema: z.ZodType): JsonSchema =>
  z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema

const INT32 = 2 ** 31 - 1

const integer = (s: JsonSchema) => {
  const min = Math.max(s.minimum ?? -INT32, -INT32)
  const max = Math.min(s.maximum ?? INT32, INT32)
  // The bounds themselves are where off-by-one mistakes live.
  const edges = [s.minimum, s.maximum].filter((n): n is number => n !== undefined)
  return edges.length
    ? fc.oneof(fc.integer({ min, max }), fc.constantFrom(...edges))
    : fc.integer({ min, max })
}

const number = (s: JsonSchema) =>
  fc.double({
    noNaN: true,
    noDefaultInfinity: true,
    min: s.exclusiveMinimum ?? s.minimum ?? -1e6,
    max: s.exclusiveMaximum ?? s.maximum ?? 1e6,
    minExcluded: s.exclusiveMinimum !== undefined,
    maxExcluded: s.exclusiveMaximum !== undefined,
  })

const string = (s: JsonSchema) => {
  const max = Math.min(s.maxLength ?? 40, 40)
  if (s.pattern) {
    return fc
      .stringMatching(new RegExp(s.pattern))
      .map((v) => (s.maxLength ? v.slice(0, s.maxLength) : v))
  }
  return fc.string({
    minLength: s.minLength ?? 0,
    maxLength: Math.max(max, s.minLength ?? 0),
    unit: 'grapheme',
  })
}

/**
 * A fast-check arbitrary of values that `schema` accepts, or nearly: refinements zod cannot
 * express in JSON Schema (no `..` in a path, exactly one of prompt/shell/argv) are left to chance,
 * which is what a fuzzer wants anyway. `hints` mix chosen values in by property name.
 */
export const arbitraryOf = (
  schema: JsonSchema,
  hints: Hints = {},
  name?: string,
): fc.Arbitrary<unknown> => {
  const plain = bare(schema, hints)
  const hint = name === undefined ? undefined : hints[name]
  return hint ? fc.oneof({ weight: 1, arbitrary: plain }, { weight: 5, arbitrary: hint }) : plain
}

const bare = (s: JsonSchema, hints: Hints): fc.Arbitrary<unknown> => {
  if (s.anyOf ?? s.oneOf)
    return fc.oneof(...(s.anyOf ?? s.oneOf)!.map((x) => arbitraryOf(x, hints)))
  if (s.enum) return fc.constantFrom(...s.enum)
  if ('const' in s) return fc.constant(s.const)
  switch (s.type) {
    case 'string':
      return string(s)
    case 'integer':
      return integer(s)
    case 'number':
      return number(s)
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array':
      return fc.array(arbitraryOf(s.items ?? {}, hints), {
        minLength: s.minItems ?? 0,
        maxLength: Math.max(Math.min(s.maxItems ?? 4, 4), s.minItems ?? 0),
      })
    case 'object':
      return object(s, hints)
    default:
      return fc.jsonValue({ maxDepth: 2 })
  }
}

const object = (s: JsonSchema, hints: Hints): fc.Arbitrary<unknown> => {
  const props = s.properties ?? {}
  const known = fc.record(
    Object.fromEntries(Object.entries(props).map(([k, v]) => [k, arbitraryOf(v, hints, k)])),
    { requiredKeys: (s.required ?? []).filter((k) => k in props) },
  )
  if (typeof s.additionalProperties !== 'object') return known
  // A record type (env, labels, files): its keys follow propertyNames.
  const keys = (
    s.propertyNames ? arbitraryOf(s.propertyNames, hints) : fc.string()
  ) as fc.Arbitrary<string>
  const extra = fc.dictionary(keys, arbitraryOf(s.additionalProperties, hints), { maxKeys: 4 })
  return fc.tuple(known, extra).map(([a, b]) => ({ ...b, ...(a as object) }))
}
