// Form fields generated from JSON Schema (as /openapi.json serves WorkerConfig). Each builder
// returns `{ el, read }`: `read()` gives the value, or undefined when the operator left the
// field alone, so the service's defaults apply.
import { h } from './dom.js'

let ids = 0
const nextId = (name) => `f-${name.replace(/[^A-Za-z0-9]/g, '-')}-${++ids}`

/** String enum values a schema allows (directly, or in `anyOf` branches). */
const enumsOf = (schema) =>
  schema.enum ?? (schema.anyOf ?? []).flatMap((s) => (s.type === 'string' && s.enum ? s.enum : []))

const hintOf = (schema) => {
  const parts = []
  if (schema.description) parts.push(schema.description)
  if (schema.default !== undefined && typeof schema.default !== 'object')
    parts.push(`default ${schema.default}`)
  return parts.join(' · ')
}

/** A select of fixed values, with "default" first. */
const selectField = (id, values, schema) => {
  const el = h(
    'select',
    { id },
    h('option', { value: '' }, schema.default !== undefined ? `default (${schema.default})` : '—'),
    values.map((v) => h('option', { value: v }, v)),
  )
  return { el, read: () => el.value || undefined }
}

const numberField = (id, schema) => {
  const el = h('input', {
    id,
    type: 'number',
    step: schema.type === 'integer' ? '1' : 'any',
    min: schema.minimum,
    max: schema.maximum,
    placeholder: schema.default ?? '',
  })
  return { el, read: () => (el.value === '' ? undefined : Number(el.value)) }
}

/** key → value rows (env, labels, files); a value box grows for file contents. */
export const rowsField = (id, { keyLabel = 'name', multiline = false } = {}) => {
  const list = h('div', { class: 'rows' })
  const add = (key = '', value = '') => {
    const row = h(
      'div',
      { class: 'row' },
      h('input', { placeholder: keyLabel, value: key, 'aria-label': keyLabel }),
      multiline
        ? h('textarea', { rows: 2, placeholder: 'content', 'aria-label': 'value' }, value)
        : h('input', { placeholder: 'value', value, 'aria-label': 'value' }),
      h('button', { type: 'button', onclick: () => row.remove(), title: 'Remove' }, '×'),
    )
    list.append(row)
  }
  const el = h(
    'div',
    { id },
    list,
    h('button', { type: 'button', class: 'add', onclick: () => add() }, '+ Add'),
  )
  const read = () => {
    const out = {}
    for (const row of list.children) {
      const [k, v] = row.querySelectorAll('input, textarea')
      if (k.value.trim()) out[k.value.trim()] = v.value
    }
    return Object.keys(out).length ? out : undefined
  }
  return { el, read, add }
}

const listField = (id, schema) => {
  const el = h('input', { id, placeholder: 'comma-separated' })
  return {
    el,
    read: () => {
      const items = el.value.split(/[\s,]+/).filter(Boolean)
      if (!items.length) return undefined
      return schema.items?.type === 'integer' || schema.items?.type === 'number'
        ? items.map(Number)
        : items
    },
  }
}

const jsonField = (id) => {
  const el = h('textarea', { id, rows: 3, placeholder: 'JSON' })
  return {
    el,
    read: () => {
      if (!el.value.trim()) return undefined
      try {
        return JSON.parse(el.value)
      } catch {
        throw new Error(`${id}: not valid JSON`)
      }
    },
  }
}

/** The input for one schema, by its shape. */
export const fieldFor = (name, schema) => {
  const id = nextId(name)
  const enums = enumsOf(schema)
  if (enums.length) return { id, ...selectField(id, enums, schema) }
  if (schema.type === 'integer' || schema.type === 'number')
    return { id, ...numberField(id, schema) }
  if (schema.type === 'boolean') return { id, ...selectField(id, ['true', 'false'], schema) }
  if (schema.type === 'string') {
    const el = h('input', { id, placeholder: schema.default ?? '' })
    return { id, el, read: () => el.value || undefined }
  }
  if (schema.type === 'object' && schema.properties) {
    const subs = Object.entries(schema.properties).map(([k, s]) => [k, fieldFor(k, s)])
    const el = h(
      'fieldset',
      { id },
      subs.map(([k, f]) => labelled(k, subsOf(schema, k), f)),
    )
    const read = () => {
      const out = {}
      for (const [k, f] of subs) {
        const v = f.read()
        if (v !== undefined) out[k] = v
      }
      return Object.keys(out).length ? out : undefined
    }
    return { id, el, read }
  }
  if (schema.type === 'object' && schema.additionalProperties)
    return {
      id,
      ...rowsField(id, {
        multiline: name === 'files',
        keyLabel: name === 'files' ? 'path' : 'name',
      }),
    }
  if (schema.type === 'array' && schema.items && schema.items.type !== 'object')
    return { id, ...listField(id, schema) }
  return { id, ...jsonField(id) }
}

const subsOf = (schema, key) => schema.properties[key]

/** A field with its label and hint, in the form's grid. */
export const labelled = (name, schema, field, title = name) =>
  h(
    'div',
    { class: 'field', dataset: { field: name } },
    h('label', { for: field.id }, title),
    h('div', {}, field.el, hintOf(schema) ? h('div', { class: 'hint' }, hintOf(schema)) : null),
  )
