const QUOTE = 34
const BACKSLASH = 92
const LBRACE = 123
const RBRACE = 125
const LBRACKET = 91
const RBRACKET = 93
const COLON = 58
const COMMA = 44
/** Levels whose keys are followed; wanted paths are shallow, anything deeper only counts depth. */
const MAX_TRACKED = 8
const MAX_KEY = 64
/** A wanted value longer than this is dropped: usage objects and model names are small. */
const MAX_VALUE = 64 * 1024
const STRING_STOP = /["\\]/g

/** What a scan reports. */
export interface JsonScanHandlers {
  /** A wanted value (an object or a string) as JSON text, e.g. `('usage', '{"input_tokens":3}')`. */
  value(path: string, raw: string): void
  /** A record ended: values reported since belong to it. */
  recordEnd?(): void
}

interface Capture {
  path: string
  parts: string[]
  size: number
  /** Where the value starts in the current piece of text. */
  from: number
  /** The depth the value sits at; it ends when the scan is back there. */
  depth: number
  isString: boolean
}

/**
 * Finds a few values in JSON text as it streams, holding none of the rest: bounded memory
 * whatever the size. A path names keys from a record (the root object, each object of a root
 * array, or each of several roots one after another), e.g. `response.usage`. Only objects and
 * strings are reported. Never throws; malformed text just yields nothing useful.
 *
 * @example
 * const scan = new JsonScan(['usage'], { value: (path, raw) => console.log(path, raw) })
 * scan.push('{"id":"x","usa')
 * scan.push('ge":{"input_tokens":3}}') // usage {"input_tokens":3}
 */
export class JsonScan {
  private readonly wanted: Set<string>
  /** Paths of objects that hold a wanted path, e.g. `response` for `response.usage`. */
  private readonly holders: Set<string>
  private depth = 0
  /** Per tracked open container: its path from the record ('' for a record), null when nothing wanted is below. */
  private readonly prefix: (string | null)[] = []
  private readonly isObject: boolean[] = []
  private rootIsArray = false
  private expectKey = false
  /** The key whose value comes next in the current object. */
  private key: string | undefined
  /** The key being read, when it is one of a container we follow. */
  private keyText: string | undefined
  private keyFrom = 0
  private inString = false
  private escape = false
  private capture: Capture | undefined

  constructor(
    paths: readonly string[],
    private readonly on: JsonScanHandlers,
  ) {
    this.wanted = new Set(paths)
    this.holders = new Set(
      paths.flatMap((p) => p.split('.').map((_, i, keys) => keys.slice(0, i).join('.'))),
    )
    this.holders.delete('')
  }

  /** Scans the next piece of text (split anywhere). */
  push(s: string): void {
    if (this.capture) this.capture.from = 0
    this.keyFrom = 0
    const n = s.length
    let i = 0
    while (i < n) {
      if (this.inString) {
        if (this.escape) {
          this.escape = false
          i++
          continue
        }
        // Strings are most of the text: jump to the next quote or backslash.
        STRING_STOP.lastIndex = i
        const stop = STRING_STOP.exec(s)
        if (!stop) break
        i = stop.index
        if (s.charCodeAt(i) === BACKSLASH) this.escape = true
        else this.stringEnd(s, i)
        i++
        continue
      }
      const c = s.charCodeAt(i)
      if (c === QUOTE) {
        this.inString = true
        if (this.expectKey) this.keyStart(i)
        else this.valueStart(i, true)
      } else if (c === LBRACE || c === LBRACKET) {
        if (c === LBRACE) this.valueStart(i, false)
        this.open(c === LBRACE)
      } else if (c === RBRACE || c === RBRACKET) {
        this.close(s, i)
      } else if (c === COLON) {
        this.expectKey = false
      } else if (c === COMMA) {
        this.key = undefined
        this.expectKey =
          this.depth > 0 && this.depth <= MAX_TRACKED && !!this.isObject[this.depth - 1]
      }
      i++
    }
    if (this.capture) this.keep(this.capture, s.slice(this.capture.from))
    if (this.keyText !== undefined)
      this.keyText = (this.keyText + s.slice(this.keyFrom)).slice(0, MAX_KEY + 1)
  }

  /** The path of a value starting here, when it is wanted. */
  private pathHere(): string | undefined {
    const d = this.depth
    if (d === 0 || d > MAX_TRACKED || this.key === undefined) return undefined
    const p = this.prefix[d - 1]
    if (p === null || p === undefined || !this.isObject[d - 1]) return undefined
    return p ? `${p}.${this.key}` : this.key
  }

  private keyStart(i: number) {
    const d = this.depth
    // Keys matter only in objects we follow; others are just strings to skip.
    if (d > MAX_TRACKED || this.prefix[d - 1] == null) return
    this.keyText = ''
    this.keyFrom = i + 1
  }

  private valueStart(i: number, isString: boolean) {
    if (this.capture) return
    const path = this.pathHere()
    if (path === undefined || !this.wanted.has(path)) return
    this.capture = { path, parts: [], size: 0, from: i, depth: this.depth, isString }
  }

  private stringEnd(s: string, i: number) {
    this.inString = false
    if (this.expectKey) {
      if (this.keyText !== undefined) {
        const key = this.keyText + s.slice(this.keyFrom, i)
        this.key = key.length <= MAX_KEY ? key : undefined
        this.keyText = undefined
      }
      this.expectKey = false
      return
    }
    if (this.capture?.isString) this.end(s, i)
    this.key = undefined
  }

  private open(isObject: boolean) {
    const d = this.depth
    let prefix: string | null = null
    if (d === 0) {
      this.rootIsArray = !isObject
      if (isObject) prefix = ''
    } else if (d === 1 && this.rootIsArray) {
      if (isObject) prefix = ''
    } else {
      const path = isObject ? this.pathHere() : undefined
      if (path !== undefined && this.holders.has(path)) prefix = path
    }
    if (d < MAX_TRACKED) {
      this.prefix[d] = prefix
      this.isObject[d] = isObject
    }
    this.depth = d + 1
    this.expectKey = isObject
    this.key = undefined
  }

  private close(s: string, i: number) {
    if (this.depth === 0) return
    const d = --this.depth
    this.expectKey = false
    this.key = undefined
    if (this.capture && !this.capture.isString && this.capture.depth === d) this.end(s, i)
    if (d < MAX_TRACKED && this.prefix[d] === '') this.on.recordEnd?.()
  }

  private keep(c: Capture, piece: string) {
    c.size += piece.length
    if (c.size > MAX_VALUE) this.capture = undefined
    else c.parts.push(piece)
  }

  private end(s: string, i: number) {
    const c = this.capture!
    this.capture = undefined
    c.size += i + 1 - c.from
    if (c.size <= MAX_VALUE) this.on.value(c.path, c.parts.join('') + s.slice(c.from, i + 1))
  }
}
