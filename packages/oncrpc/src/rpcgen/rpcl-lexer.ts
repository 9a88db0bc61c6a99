/**
 * Tokens of the RPC language (RFC 5531 section 12, RFC 4506 section 6), as
 * rpcgen reads it: C comments, and lines for the C preprocessor (`#...`)
 * or passed through to C (`%...`) skipped.
 *
 * @module
 * @internal
 */

import { RpclError } from './rpcl-error.js'

/** One token, with where it starts. */
export interface Token {
  readonly kind: 'identifier' | 'number' | 'punctuation' | 'end'
  readonly text: string
  readonly line: number
  readonly column: number
}

const PUNCTUATION = new Set(['{', '}', '(', ')', '[', ']', '<', '>', ';', ',', '=', '*', ':'])

/** A `#define NAME NUMBER` line: rpcgen's C preprocessor makes it a constant, and so does this compiler. */
export interface Define {
  readonly name: string
  readonly value: string
}

/** Splits a `.x` file into tokens; `#define`s of a number are collected into `defines`. */
export function tokenize(source: string, fileName: string, defines: Define[] = [], predefined: readonly string[] = []): Token[] {
  const tokens: Token[] = []
  const conditions = new Conditions(new Set(predefined))
  let at = 0
  let line = 1
  let lineStart = 0
  const column = (): number => at - lineStart + 1
  while (at < source.length) {
    const char = source[at] as string
    if (char === '\n') {
      at++
      line++
      lineStart = at
      continue
    }
    if (char === ' ' || char === '\t' || char === '\r' || char === '\f' || char === '\v') {
      at++
      continue
    }
    // `%` and `#` lines: only where a line starts (after blanks), as rpcgen and cpp see them.
    if ((char === '%' || char === '#') && source.slice(lineStart, at).trim() === '') {
      const start = at
      // A backslash at the end of a line continues it, as the C preprocessor joins them.
      while (at < source.length && (source[at] !== '\n' || source[at - 1] === '\\')) {
        if (source[at] === '\n') {
          line++
          lineStart = at + 1
        }
        at++
      }
      const text = source.slice(start, at)
      if (char === '#') conditions.directive(text)
      if (!conditions.active) continue
      const define = /^%?#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)\s+(-?(?:0[xX][0-9A-Fa-f]+|[0-9]+))\s*(?:\/\*.*\*\/\s*)?$/.exec(text)
      if (define !== null) defines.push({ name: define[1] as string, value: define[2] as string })
      if (char === '#') {
        const name = /^#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(text)?.[1]
        if (name !== undefined) conditions.define(name)
      }
      continue
    }
    if (!conditions.active) {
      // Inside a branch the preprocessor leaves out: skip to the next line (a comment may still span lines).
      if (source.startsWith('/*', at)) {
        const end = source.indexOf('*/', at + 2)
        for (let i = at; i < (end < 0 ? source.length : end); i++) {
          if (source[i] === '\n') {
            line++
            lineStart = i + 1
          }
        }
        at = end < 0 ? source.length : end + 2
        continue
      }
      at++
      continue
    }
    if (source.startsWith('/*', at)) {
      const end = source.indexOf('*/', at + 2)
      if (end < 0) throw new RpclError('a comment is not closed', fileName, line, column())
      for (let i = at; i < end; i++) {
        if (source[i] === '\n') {
          line++
          lineStart = i + 1
        }
      }
      at = end + 2
      continue
    }
    if (source.startsWith('//', at)) {
      while (at < source.length && source[at] !== '\n') at++
      continue
    }
    const start = at
    const startColumn = column()
    if (/[A-Za-z_]/.test(char)) {
      while (at < source.length && /[A-Za-z0-9_]/.test(source[at] as string)) at++
      tokens.push({ kind: 'identifier', text: source.slice(start, at), line, column: startColumn })
      continue
    }
    if (/[0-9]/.test(char) || (char === '-' && /[0-9]/.test(source[at + 1] ?? ''))) {
      at++
      while (at < source.length && /[0-9A-Fa-fxX]/.test(source[at] as string)) at++
      tokens.push({ kind: 'number', text: source.slice(start, at), line, column: startColumn })
      continue
    }
    if (PUNCTUATION.has(char)) {
      at++
      tokens.push({ kind: 'punctuation', text: char, line, column: startColumn })
      continue
    }
    throw new RpclError(`unexpected character ${JSON.stringify(char)}`, fileName, line, startColumn)
  }
  tokens.push({ kind: 'end', text: 'the end of the file', line, column: column() })
  return tokens
}

/** The value of a number token (decimal, hex `0x..`, octal `0..`), or undefined when it is not one. */
export function numberValue(text: string): number | undefined {
  const negative = text.startsWith('-')
  const digits = negative ? text.slice(1) : text
  let value: number
  if (/^0[xX][0-9A-Fa-f]+$/.test(digits)) value = Number.parseInt(digits.slice(2), 16)
  else if (/^0[0-7]+$/.test(digits)) value = Number.parseInt(digits.slice(1), 8)
  else if (/^[0-9]+$/.test(digits)) value = Number.parseInt(digits, 10)
  else return undefined
  return negative ? -value : value
}

/**
 * The C preprocessor's conditionals, as far as `.x` files use them:
 * `#ifdef`, `#ifndef`, `#if 0`/`#if 1`/`#if defined(X)` (any other `#if`
 * counts as true), `#else`, `#elif` (as `#if`), `#endif`; `#define` and
 * `#undef` of names.
 */
class Conditions {
  readonly #defined: Set<string>
  /** One per open conditional: whether its current branch is kept, and whether one of its branches was. */
  readonly #stack: { keep: boolean; taken: boolean; outer: boolean }[] = []

  constructor(defined: Set<string>) {
    this.#defined = defined
  }

  get active(): boolean {
    const top = this.#stack[this.#stack.length - 1]
    return top === undefined || (top.outer && top.keep)
  }

  define(name: string): void {
    this.#defined.add(name)
  }

  directive(text: string): void {
    const match = /^#\s*(\w+)\s*(.*)$/s.exec(text.replace(/\\\n/g, ' '))
    if (match === null) return
    const [, keyword, rest = ''] = match
    const argument = rest.replace(/\/\*.*?\*\//g, '').trim()
    switch (keyword) {
      case 'ifdef':
      case 'ifndef': {
        const keep = this.#defined.has(argument.split(/\s/)[0] ?? '') === (keyword === 'ifdef')
        this.#stack.push({ keep, taken: keep, outer: this.active })
        return
      }
      case 'if': {
        const keep = this.#condition(argument)
        this.#stack.push({ keep, taken: keep, outer: this.active })
        return
      }
      case 'elif': {
        const top = this.#stack[this.#stack.length - 1]
        if (top === undefined) return
        top.keep = !top.taken && this.#condition(argument)
        top.taken ||= top.keep
        return
      }
      case 'else': {
        const top = this.#stack[this.#stack.length - 1]
        if (top === undefined) return
        top.keep = !top.taken
        top.taken = true
        return
      }
      case 'endif':
        this.#stack.pop()
        return
      case 'undef':
        if (this.active) this.#defined.delete(argument)
        return
    }
  }

  #condition(expression: string): boolean {
    if (/^0+$/.test(expression)) return false
    if (/^[0-9]+$/.test(expression)) return true
    const defined = /^(!)?\s*defined\s*\(?\s*(\w+)\s*\)?$/.exec(expression)
    if (defined !== null) return this.#defined.has(defined[2] as string) !== (defined[1] === '!')
    return true
  }
}
