/**
 * The RPC language's grammar (RFC 5531 section 12.2, RFC 4506 section
 * 6.3), with rpcgen's additions: `unsigned` alone, `char`/`short`/`long`
 * as ints, several arguments to a procedure, `string` and `opaque` as a
 * procedure's result, and `struct` before a type's name.
 *
 * @module
 * @internal
 */

import type { Declaration, Definition, EnumBody, Procedure, StructBody, TypeSpec, UnionBody, Value, Version } from './rpcl-ast.js'
import { RpclError } from './rpcl-error.js'
import { type Define, numberValue, type Token, tokenize } from './rpcl-lexer.js'

/** Parses a `.x` file into its definitions. */
export function parseRpcl(source: string, fileName: string): Definition[] {
  const defines: Define[] = []
  // RPC_HDR: rpcgen defines it while it writes the C header, where a file's `%#define`s of sizes live.
  const definitions = new Parser(tokenize(source, fileName, defines, ['RPC_HDR']), fileName).file()
  const fromDefines: Definition[] = defines.map((define) => ({
    kind: 'const',
    name: define.name,
    value: { number: numberValue(define.value) ?? 0 },
  }))
  return [...fromDefines, ...definitions]
}

class Parser {
  readonly #tokens: Token[]
  readonly #fileName: string
  #at = 0

  constructor(tokens: Token[], fileName: string) {
    this.#tokens = tokens
    this.#fileName = fileName
  }

  file(): Definition[] {
    const definitions: Definition[] = []
    while (this.#peek().kind !== 'end') definitions.push(this.#definition())
    return definitions
  }

  #peek(offset = 0): Token {
    return this.#tokens[Math.min(this.#at + offset, this.#tokens.length - 1)] as Token
  }

  #next(): Token {
    const token = this.#peek()
    if (token.kind !== 'end') this.#at++
    return token
  }

  #fail(why: string, token = this.#peek()): never {
    throw new RpclError(why, this.#fileName, token.line, token.column)
  }

  #is(text: string): boolean {
    const token = this.#peek()
    return (token.kind === 'punctuation' || token.kind === 'identifier') && token.text === text
  }

  #accept(text: string): boolean {
    if (!this.#is(text)) return false
    this.#next()
    return true
  }

  #expect(text: string): Token {
    if (!this.#is(text)) this.#fail(`expected ${text}, found ${this.#peek().text}`)
    return this.#next()
  }

  #identifier(): Token {
    const token = this.#peek()
    if (token.kind !== 'identifier') this.#fail(`expected a name, found ${token.text}`)
    return this.#next()
  }

  #value(): Value {
    const token = this.#next()
    if (token.kind === 'number') {
      const number = numberValue(token.text)
      if (number === undefined) this.#fail(`${token.text} is not a number`, token)
      return { number }
    }
    if (token.kind === 'identifier') return { name: token.text, line: token.line, column: token.column }
    return this.#fail(`expected a number or a constant, found ${token.text}`, token)
  }

  #definition(): Definition {
    const keyword = this.#identifier()
    switch (keyword.text) {
      case 'const': {
        const name = this.#identifier().text
        this.#expect('=')
        const value = this.#value()
        this.#expect(';')
        return { kind: 'const', name, value }
      }
      case 'enum': {
        const name = this.#identifier().text
        const body = this.#enumBody()
        this.#expect(';')
        return { kind: 'enum', name, body }
      }
      case 'struct': {
        const name = this.#identifier().text
        const body = this.#structBody()
        this.#expect(';')
        return { kind: 'struct', name, body }
      }
      case 'union': {
        const name = this.#identifier().text
        const body = this.#unionBody()
        this.#expect(';')
        return { kind: 'union', name, body }
      }
      case 'typedef': {
        const declaration = this.#declaration()
        if (declaration.shape === 'void') this.#fail('a typedef of void names nothing')
        this.#expect(';')
        return { kind: 'typedef', name: declaration.name, declaration }
      }
      case 'program':
        return this.#program()
      default:
        return this.#fail(`expected const, enum, struct, union, typedef or program, found ${keyword.text}`, keyword)
    }
  }

  #enumBody(): EnumBody {
    this.#expect('{')
    const members: { name: string; value: Value }[] = []
    do {
      const token = this.#identifier()
      // rpcgen lets a member go without "= value": the one before it plus one (rpcgen writes `B = A + 1`).
      const before = members[members.length - 1]
      let value: Value
      if (this.#accept('=')) value = this.#value()
      else if (before === undefined) value = { number: 0 }
      else value = { name: before.name, line: token.line, column: token.column, plus: 1 }
      members.push({ name: token.text, value })
    } while (this.#accept(',') && !this.#is('}'))
    this.#expect('}')
    return { members }
  }

  #structBody(): StructBody {
    this.#expect('{')
    const fields: Declaration[] = []
    while (!this.#accept('}')) {
      const field = this.#declaration()
      if (field.shape === 'void') this.#fail('a struct field cannot be void')
      fields.push(field)
      this.#expect(';')
    }
    if (fields.length === 0) this.#fail('a struct needs a field')
    return { fields }
  }

  #unionBody(): UnionBody {
    this.#expect('switch')
    this.#expect('(')
    const discriminant = this.#declaration()
    this.#expect(')')
    this.#expect('{')
    const cases: { values: Value[]; arm: Declaration }[] = []
    let defaultArm: Declaration | undefined
    while (!this.#accept('}')) {
      if (this.#accept('default')) {
        this.#expect(':')
        defaultArm = this.#declaration()
        this.#expect(';')
        continue
      }
      const values: Value[] = []
      while (this.#accept('case')) {
        values.push(this.#value())
        this.#expect(':')
      }
      if (values.length === 0) this.#fail(`expected case or default, found ${this.#peek().text}`)
      const arm = this.#declaration()
      this.#expect(';')
      cases.push({ values, arm })
    }
    return { discriminant, cases, ...(defaultArm === undefined ? {} : { defaultArm }) }
  }

  #typeSpec(): TypeSpec {
    const token = this.#identifier()
    switch (token.text) {
      case 'unsigned': {
        if (this.#accept('hyper')) return { kind: 'unsignedHyper' }
        if (this.#accept('int') || this.#accept('long') || this.#accept('short') || this.#accept('char')) return { kind: 'unsigned' }
        return { kind: 'unsigned' }
      }
      case 'u_int':
      case 'u_long':
      case 'u_short':
      case 'u_char':
        return { kind: 'unsigned' }
      case 'int':
      case 'long':
      case 'short':
      case 'char':
        return { kind: 'int' }
      case 'hyper':
        return { kind: 'hyper' }
      case 'float':
        return { kind: 'float' }
      case 'double':
        return { kind: 'double' }
      case 'quadruple':
        return this.#fail('quadruple (128-bit floating point) has no TypeScript type', token)
      case 'bool':
      case 'bool_t':
        return { kind: 'bool' }
      case 'void':
        return { kind: 'void' }
      case 'string':
        return { kind: 'string' }
      case 'opaque':
        return { kind: 'opaque' }
      case 'enum':
        if (this.#is('{')) return { kind: 'enum', body: this.#enumBody() }
        return this.#named(this.#identifier())
      case 'struct':
        if (this.#is('{')) return { kind: 'struct', body: this.#structBody() }
        return this.#named(this.#identifier())
      case 'union':
        if (this.#is('switch')) return { kind: 'union', body: this.#unionBody() }
        return this.#named(this.#identifier())
      default:
        return this.#named(token)
    }
  }

  #named(token: Token): TypeSpec {
    return { kind: 'named', name: token.text, line: token.line, column: token.column }
  }

  #declaration(): Declaration {
    const start = this.#peek()
    const type = this.#typeSpec()
    if (type.kind === 'void' && !this.#is('*') && this.#peek().kind !== 'identifier') {
      return { name: '', type, shape: 'void', line: start.line, column: start.column }
    }
    if (this.#accept('*')) {
      const name = this.#identifier().text
      return { name, type, shape: 'optional', line: start.line, column: start.column }
    }
    const name = this.#identifier().text
    let shape: Declaration['shape'] = 'plain'
    let size: Value | undefined
    if (this.#accept('[')) {
      shape = 'fixed'
      size = this.#value()
      this.#expect(']')
    } else if (this.#accept('<')) {
      shape = 'variable'
      if (!this.#is('>')) size = this.#value()
      this.#expect('>')
    }
    if (type.kind === 'string' && shape !== 'variable') this.#fail(`string ${name} needs a bound: string ${name}<> or <N>`, start)
    if (type.kind === 'opaque' && shape !== 'variable' && shape !== 'fixed')
      this.#fail(`opaque ${name} needs a size: [N], <N> or <>`, start)
    return { name, type, shape, ...(size === undefined ? {} : { size }), line: start.line, column: start.column }
  }

  #program(): Definition {
    const name = this.#identifier().text
    this.#expect('{')
    const versions: Version[] = []
    while (!this.#accept('}')) {
      this.#expect('version')
      const versionName = this.#identifier().text
      this.#expect('{')
      const procedures: Procedure[] = []
      while (!this.#accept('}')) {
        const result = this.#typeSpec()
        const procedureName = this.#identifier().text
        this.#expect('(')
        const args: TypeSpec[] = []
        do args.push(this.#typeSpec())
        while (this.#accept(','))
        this.#expect(')')
        this.#expect('=')
        const number = this.#value()
        this.#expect(';')
        procedures.push({ name: procedureName, number, result, args: args.length === 1 && args[0]?.kind === 'void' ? [] : args })
      }
      this.#expect('=')
      const number = this.#value()
      this.#expect(';')
      versions.push({ name: versionName, number, procedures })
    }
    this.#expect('=')
    const number = this.#value()
    this.#expect(';')
    return { kind: 'program', name, number, versions }
  }
}
