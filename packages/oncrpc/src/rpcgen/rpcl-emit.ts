/**
 * From a `.x` file's definitions to a TypeScript (or JavaScript) module:
 * its constants, a type and an XDR codec per type definition, each
 * program's definition, a typed server skeleton and a typed client.
 *
 * @module
 * @internal
 */

import type { Declaration, Definition, EnumBody, StructBody, TypeSpec, UnionBody, Value } from './rpcl-ast.js'
import { RpclError } from './rpcl-error.js'

/** Options of the emitter. */
export interface EmitOptions {
  readonly fileName: string
  /** `ts` (default): types and annotations; `js`: plain ES module. */
  readonly language: 'ts' | 'js'
  /** Where the generated module imports the library from. */
  readonly importFrom: string
}

/** Types rpcgen knows from libtirpc's headers rather than from the `.x` file. */
const BUILTIN_ALIASES: Readonly<Record<string, TypeSpec['kind']>> = {
  rpcprog_t: 'unsigned',
  rpcvers_t: 'unsigned',
  rpcproc_t: 'unsigned',
  rpcprot_t: 'unsigned',
  rpcport_t: 'unsigned',
  uint32_t: 'unsigned',
  u_int32_t: 'unsigned',
  int32_t: 'int',
  uint64_t: 'unsignedHyper',
  u_int64_t: 'unsignedHyper',
  u_quad_t: 'unsignedHyper',
  int64_t: 'hyper',
  quad_t: 'hyper',
}
/** Types of libtirpc's headers that `.x` files use by name: `struct netbuf` (xdr_netbuf), `netobj` (xdr_netobj, at most 1024 bytes). */
const HEADER_TYPES: Readonly<Record<string, { readonly ts: string; readonly codec: string; readonly about: string }>> = {
  netbuf: {
    ts: '{ maxlen: number; buf: Uint8Array }',
    codec: 'xdr.struct({ maxlen: xdr.unsigned, buf: xdr.varOpaque() })',
    about: "libtirpc's struct netbuf",
  },
  netobj: { ts: 'Uint8Array', codec: 'xdr.varOpaque(1024)', about: "libtirpc's netobj (MAX_NETOBJ_SZ bytes at most)" },
}

const RESERVED = new Set(
  'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await any boolean number string symbol undefined object never unknown bigint type xdr defineProgram implement programClient'.split(
    ' ',
  ),
)

/** A name safe as a TypeScript identifier at the top of a module. */
function safe(name: string): string {
  return RESERVED.has(name) ? `${name}_` : name
}

const BASE: Readonly<Record<string, { codec: string; ts: string }>> = {
  int: { codec: 'xdr.int', ts: 'number' },
  unsigned: { codec: 'xdr.unsigned', ts: 'number' },
  hyper: { codec: 'xdr.hyper', ts: 'bigint' },
  unsignedHyper: { codec: 'xdr.unsignedHyper', ts: 'bigint' },
  float: { codec: 'xdr.float', ts: 'number' },
  double: { codec: 'xdr.double', ts: 'number' },
  bool: { codec: 'xdr.bool', ts: 'boolean' },
  void: { codec: 'xdr.void', ts: 'undefined' },
}

type TypeDefinition = Extract<Definition, { kind: 'enum' | 'struct' | 'union' | 'typedef' }>

/** Writes the module for a file's definitions. */
export function emitModule(definitions: readonly Definition[], options: EmitOptions): string {
  return new Emitter(definitions, options).module()
}

class Emitter {
  readonly #definitions: readonly Definition[]
  readonly #options: EmitOptions
  readonly #typed: boolean
  readonly #types = new Map<string, TypeDefinition>()
  /** Constants by name, as written (resolved on use). */
  readonly #constants = new Map<string, Value>()
  readonly #resolved = new Map<string, number>()
  /** Type definitions emitted so far: a reference to one not yet emitted is lazy. */
  readonly #emitted = new Set<string>()
  /** Numbers exported under a name so far (constants, version and procedure numbers): a second program may reuse a name. */
  readonly #exportedNumbers = new Map<string, number>()
  /** Functions exported so far. */
  readonly #exportedFunctions = new Set<string>()
  /** Header types referenced, emitted before the file's own. */
  readonly #headerTypes = new Set<string>()

  constructor(definitions: readonly Definition[], options: EmitOptions) {
    this.#definitions = definitions
    this.#options = options
    this.#typed = options.language === 'ts'
    for (const definition of definitions) {
      switch (definition.kind) {
        case 'const':
          this.#define(definition.name, definition.value)
          break
        case 'enum':
          this.#types.set(definition.name, definition)
          for (const member of definition.body.members) this.#define(member.name, member.value)
          break
        case 'program':
          this.#define(definition.name, definition.number)
          for (const version of definition.versions) {
            this.#define(version.name, version.number)
            for (const procedure of version.procedures) this.#define(procedure.name, procedure.number)
          }
          break
        default:
          if (this.#types.has(definition.name)) this.#fail(`${definition.name} is defined twice`)
          this.#types.set(definition.name, definition)
      }
      if (definition.kind === 'struct' || definition.kind === 'union') this.#defineInner(definition.body)
    }
  }

  /** Enum members of enums written in place are constants too. */
  #defineInner(body: StructBody | UnionBody): void {
    const declarations =
      'fields' in body ? body.fields : [body.discriminant, ...body.cases.map((c) => c.arm), ...(body.defaultArm ? [body.defaultArm] : [])]
    for (const declaration of declarations) {
      if (declaration.type.kind === 'enum') for (const member of declaration.type.body.members) this.#define(member.name, member.value)
    }
  }

  #define(name: string, value: Value): void {
    const existing = this.#constants.get(name)
    // rpcgen #defines a procedure name once per version; the same value twice is no conflict.
    if (existing !== undefined && JSON.stringify(existing) !== JSON.stringify(value)) {
      const number = (v: Value) => ('number' in v ? v.number : undefined)
      if (number(existing) === undefined || number(existing) !== number(value)) {
        if (!('name' in value) || value.name !== name) this.#constants.set(`${name}#${this.#constants.size}`, value)
        return
      }
    }
    this.#constants.set(name, value)
  }

  #fail(why: string, where?: { line: number; column: number }): never {
    throw new RpclError(why, this.#options.fileName, where?.line ?? 0, where?.column ?? 0)
  }

  #value(value: Value, seen: readonly string[] = []): number {
    if ('number' in value) return value.number
    const cached = this.#resolved.get(value.name)
    if (cached !== undefined) return cached + (value.plus ?? 0)
    if (seen.includes(value.name)) this.#fail(`the constant ${value.name} is defined in terms of itself`, value)
    const written = this.#constants.get(value.name)
    if (written === undefined) this.#fail(`${value.name} is not a constant defined in this file`, value)
    const number = this.#value(written, [...seen, value.name])
    this.#resolved.set(value.name, number)
    return number + (value.plus ?? 0)
  }

  #size(declaration: Declaration): string {
    if (declaration.size === undefined) return ''
    const size = declaration.size
    const number = this.#value(size)
    if (!Number.isInteger(number) || number < 0 || number > 0xffff_ffff)
      this.#fail(`the size of ${declaration.name} must be from 0 to 2^32 - 1`, declaration)
    return 'name' in size && this.#isConstant(size.name) ? safe(size.name) : String(number)
  }

  /** A const of the file, emitted under its name (not an enum member or a procedure number). */
  #isConstant(name: string): boolean {
    return this.#definitions.some((d) => d.kind === 'const' && d.name === name)
  }

  module(): string {
    const body: string[] = []
    const constants = this.#definitions.filter((d): d is Extract<Definition, { kind: 'const' }> => d.kind === 'const')
    if (constants.length > 0) {
      body.push('// Constants')
      const written = new Map<string, number>()
      for (const constant of constants) {
        const value = this.#value(constant.value)
        const before = written.get(constant.name)
        if (before === value) continue
        if (before !== undefined) this.#fail(`the constant ${constant.name} is defined twice, as ${before} and as ${value}`)
        written.set(constant.name, value)
        body.push(`export const ${safe(constant.name)} = ${value}`)
      }
      body.push('')
    }
    for (const definition of this.#definitions) {
      if (definition.kind === 'const' || definition.kind === 'program') continue
      body.push(...this.#typeDefinition(definition), '')
    }
    for (const definition of this.#definitions) if (definition.kind === 'program') body.push(...this.#program(definition), '')
    const head = [
      `// Generated by socketserver rpcgen from ${this.#options.fileName}. Do not edit: change the .x file and compile it again.`,
      '/* eslint-disable */',
      '',
      this.#imports(),
      '',
    ]
    for (const name of this.#headerTypes) {
      const header = HEADER_TYPES[name] as (typeof HEADER_TYPES)[string]
      head.push(`/** ${header.about}. */`)
      if (this.#typed) head.push(`export type ${name} = ${header.ts}`)
      head.push(`export const ${name}${this.#typed ? `: XdrType<${name}>` : ''} = ${header.codec}`, '')
    }
    return `${[...head, ...body].join('\n').trimEnd()}\n`
  }

  #imports(): string {
    const hasPrograms = this.#definitions.some((d) => d.kind === 'program')
    const values = ['xdr', ...(hasPrograms ? ['defineProgram', 'implement', 'programClient'] : [])]
    const types = this.#typed
      ? ['XdrType', ...(hasPrograms ? ['ProgramClient', 'ProgramImplementation', 'RpcClient', 'RpcProgram'] : [])]
      : []
    const names = [...values, ...types.map((t) => `type ${t}`)].sort((a, b) => a.replace('type ', '').localeCompare(b.replace('type ', '')))
    return `import { ${names.join(', ')} } from '${this.#options.importFrom}'`
  }

  #typeDefinition(definition: TypeDefinition): string[] {
    const name = safe(definition.name)
    let ts: string
    let codec: string
    let cast = false
    switch (definition.kind) {
      case 'enum':
        ts = this.#enumTs(definition.body)
        codec = this.#enumCodec(definition.body)
        break
      case 'struct':
        ts = this.#structTs(definition.body)
        codec = this.#structCodec(definition.body)
        break
      case 'union':
        ts = this.#unionTs(definition.body)
        codec = this.#unionCodec(definition.body)
        cast = true
        break
      case 'typedef':
        ts = this.#declarationTs(definition.declaration)
        codec = this.#declarationCodec(definition.declaration)
        cast = definition.declaration.type.kind === 'union'
        break
    }
    this.#emitted.add(definition.name)
    const lines: string[] = []
    if (this.#typed) lines.push(`export type ${name} = ${ts}`)
    lines.push(
      `export const ${name}${this.#typed ? `: XdrType<${name}>` : ''} = ${codec}${cast && this.#typed ? ` as XdrType<${name}>` : ''}`,
    )
    return lines
  }

  #enumTs(body: EnumBody): string {
    return body.members.map((m) => `'${m.name}'`).join(' | ')
  }

  #enumCodec(body: EnumBody): string {
    return `xdr.enumeration({ ${body.members.map((m) => `${m.name}: ${this.#value(m.value)}`).join(', ')} })`
  }

  #structTs(body: StructBody): string {
    return `{ ${body.fields.map((f) => `${f.name}: ${this.#declarationTs(f)}`).join('; ')} }`
  }

  #structCodec(body: StructBody): string {
    return `xdr.struct({ ${body.fields.map((f) => `${f.name}: ${this.#declarationCodec(f)}`).join(', ')} })`
  }

  /** The discriminant's kind, through typedefs: an enum's members, or int/unsigned/bool. */
  #discriminantKind(type: TypeSpec): { kind: 'enum'; members: Set<string> } | { kind: 'int' | 'unsigned' | 'bool' } {
    if (type.kind === 'enum') return { kind: 'enum', members: new Set(type.body.members.map((m) => m.name)) }
    if (type.kind === 'int' || type.kind === 'unsigned' || type.kind === 'bool') return { kind: type.kind }
    if (type.kind === 'named') {
      const alias = BUILTIN_ALIASES[type.name]
      if (alias === 'int' || alias === 'unsigned') return { kind: alias }
      const definition = this.#types.get(type.name)
      if (definition?.kind === 'enum') return { kind: 'enum', members: new Set(definition.body.members.map((m) => m.name)) }
      if (definition?.kind === 'typedef' && definition.declaration.shape === 'plain')
        return this.#discriminantKind(definition.declaration.type)
    }
    return this.#fail('a union discriminant must be an int, unsigned int, bool or enum', 'line' in type ? type : undefined)
  }

  /** Each case's tags, as they appear in values: enum names, numbers, or true/false. */
  #caseTags(body: UnionBody): { tags: string[]; arm: Declaration }[] {
    const discriminant = this.#discriminantKind(body.discriminant.type)
    return body.cases.map(({ values, arm }) => ({
      arm,
      tags: values.map((value) => {
        if (discriminant.kind === 'enum') {
          if ('name' in value && discriminant.members.has(value.name)) return `'${value.name}'`
          this.#fail(
            `case ${'name' in value ? value.name : value.number} is not a member of the discriminant's enum`,
            'line' in value ? value : body.discriminant,
          )
        }
        if (discriminant.kind === 'bool') {
          if ('name' in value && (value.name === 'TRUE' || value.name === 'FALSE')) return value.name === 'TRUE' ? 'true' : 'false'
          return this.#value(value) === 0 ? 'false' : 'true'
        }
        return String(this.#value(value))
      }),
    }))
  }

  #unionTs(body: UnionBody): string {
    const cases = this.#caseTags(body)
    const arms = cases.map(({ tags, arm }) => `{ tag: ${tags.join(' | ')}; value: ${this.#declarationTs(arm)} }`)
    if (body.defaultArm !== undefined) {
      const discriminant = this.#discriminantKind(body.discriminant.type)
      const all = cases.flatMap((c) => c.tags).join(' | ')
      const rest =
        discriminant.kind === 'enum'
          ? `Exclude<${[...discriminant.members].map((m) => `'${m}'`).join(' | ')}, ${all}>`
          : discriminant.kind === 'bool'
            ? 'boolean'
            : 'number'
      arms.push(`{ tag: ${rest}; value: ${this.#declarationTs(body.defaultArm)} }`)
    }
    return arms.join(' | ')
  }

  #unionCodec(body: UnionBody): string {
    const arms = this.#caseTags(body).flatMap(({ tags, arm }) => {
      const codec = this.#declarationCodec(arm)
      // An enum name or a number is a key as it is; a negative number is quoted.
      return tags.map((tag) => `${tag.startsWith("'") ? tag.slice(1, -1) : tag.startsWith('-') ? `'${tag}'` : tag}: ${codec}`)
    })
    const defaultArm = body.defaultArm === undefined ? '' : `, ${this.#declarationCodec(body.defaultArm)}`
    return `xdr.union(${this.#typeCodec(body.discriminant.type)}, { ${arms.join(', ')} }${defaultArm})`
  }

  #declarationTs(declaration: Declaration): string {
    const type = declaration.type
    if (declaration.shape === 'void') return 'undefined'
    if (type.kind === 'string') return 'string'
    if (type.kind === 'opaque') return 'Uint8Array'
    const element = this.#typeTs(type)
    switch (declaration.shape) {
      case 'plain':
        return element
      case 'optional':
        return `${element} | undefined`
      default:
        return `Array<${element}>`
    }
  }

  #declarationCodec(declaration: Declaration): string {
    const type = declaration.type
    if (declaration.shape === 'void') return 'xdr.void'
    const size = this.#size(declaration)
    if (type.kind === 'string') return `xdr.string(${size})`
    if (type.kind === 'opaque') return declaration.shape === 'fixed' ? `xdr.opaque(${size})` : `xdr.varOpaque(${size})`
    const element = this.#typeCodec(type)
    switch (declaration.shape) {
      case 'plain':
        return element
      case 'optional':
        return `xdr.optional(${element})`
      case 'fixed':
        return `xdr.array(${element}, ${size})`
      default:
        return `xdr.varArray(${element}${size === '' ? '' : `, ${size}`})`
    }
  }

  #typeTs(type: TypeSpec): string {
    switch (type.kind) {
      case 'named': {
        const alias = BUILTIN_ALIASES[type.name]
        if (alias !== undefined) return (BASE[alias] as { ts: string }).ts
        if (Object.hasOwn(HEADER_TYPES, type.name) && !this.#types.has(type.name)) {
          this.#headerTypes.add(type.name)
          return type.name
        }
        if (!this.#types.has(type.name)) this.#fail(`the type ${type.name} is not defined in this file`, type)
        return safe(type.name)
      }
      case 'enum':
        return this.#enumTs(type.body)
      case 'struct':
        return this.#structTs(type.body)
      case 'union':
        return `(${this.#unionTs(type.body)})`
      case 'string':
        return 'string'
      case 'opaque':
        return 'Uint8Array'
      default:
        return (BASE[type.kind] as { ts: string }).ts
    }
  }

  #typeCodec(type: TypeSpec): string {
    switch (type.kind) {
      case 'named': {
        const alias = BUILTIN_ALIASES[type.name]
        if (alias !== undefined) return (BASE[alias] as { codec: string }).codec
        if (Object.hasOwn(HEADER_TYPES, type.name) && !this.#types.has(type.name)) {
          this.#headerTypes.add(type.name)
          return type.name
        }
        if (!this.#types.has(type.name)) this.#fail(`the type ${type.name} is not defined in this file`, type)
        return this.#emitted.has(type.name) ? safe(type.name) : `xdr.lazy(() => ${safe(type.name)})`
      }
      case 'enum':
        return this.#enumCodec(type.body)
      case 'struct':
        return this.#structCodec(type.body)
      case 'union':
        // A union written in place: cast to its arm-by-arm type, as a named one is.
        return this.#typed ? `(${this.#unionCodec(type.body)} as XdrType<${this.#unionTs(type.body)}>)` : this.#unionCodec(type.body)
      case 'string':
        return 'xdr.string()'
      case 'opaque':
        return 'xdr.varOpaque()'
      default:
        return (BASE[type.kind] as { codec: string }).codec
    }
  }

  #program(program: Extract<Definition, { kind: 'program' }>): string[] {
    const name = safe(program.name)
    const lines: string[] = []
    const numbers = new Map<string, number>()
    const versions = program.versions.map((version) => {
      numbers.set(version.name, this.#value(version.number))
      const procedures = version.procedures.map((procedure) => {
        const number = this.#value(procedure.number)
        if (!numbers.has(procedure.name)) numbers.set(procedure.name, number)
        const args =
          procedure.args.length === 0
            ? 'xdr.void'
            : procedure.args.length === 1
              ? this.#typeCodec(procedure.args[0] as TypeSpec)
              : `xdr.struct({ ${procedure.args.map((arg, i) => `arg${i + 1}: ${this.#typeCodec(arg)}`).join(', ')} })`
        return `        ${procedure.name}: { number: ${number}, args: ${args}, result: ${this.#typeCodec(procedure.result)} },`
      })
      return [
        `    ${version.name}: {`,
        `      number: ${this.#value(version.number)},`,
        '      procedures: {',
        ...procedures,
        '      },',
        '    },',
      ]
    })
    lines.push(`// Program ${program.name} and the numbers of its versions and procedures`)
    for (const [constant, number] of numbers) {
      if (constant === program.name || this.#isConstant(constant)) continue
      // Two programs may name a version (or procedure) alike, as rpcgen's #defines may: one export per name.
      const before = this.#exportedNumbers.get(constant)
      if (before === number) continue
      if (before !== undefined) {
        lines.push(`// ${constant} is ${number} in ${program.name}; the ${constant} above is ${before}`)
        continue
      }
      this.#exportedNumbers.set(constant, number)
      lines.push(`export const ${safe(constant)} = ${number}`)
    }
    lines.push('')
    lines.push(`/** Program ${program.name} (${this.#value(program.number)}) as ${this.#options.fileName} defines it. */`)
    lines.push(`export const ${name} = defineProgram({`)
    lines.push(`  name: '${program.name}',`, `  number: ${this.#value(program.number)},`, '  versions: {', ...versions.flat(), '  },', '})')
    lines.push('')
    if (this.#typed) {
      lines.push(`/** The code of ${program.name}: a function per procedure of each version served (procedure 0 may be left out). */`)
      lines.push(`export type ${program.name}_Code = ProgramImplementation<typeof ${name}>`, '')
    }
    lines.push(`/** ${program.name} with its code, for rpcHandler() and registerWithPortmapper(). */`)
    lines.push(
      this.#typed
        ? `export function implement${program.name}(code: ${program.name}_Code): RpcProgram {`
        : `export function implement${program.name}(code) {`,
    )
    lines.push(`  return implement(${name}, code)`, '}')
    for (const version of program.versions) {
      // VERSION_client, or PROGRAM_VERSION_client when another program of the file took that name.
      let client = `${version.name}_client`
      if (this.#exportedFunctions.has(client)) client = `${program.name}_${version.name}_client`
      this.#exportedFunctions.add(client)
      lines.push('', `/** A client of ${program.name} version ${version.name}: a method per procedure. */`)
      lines.push(
        this.#typed
          ? `export function ${client}(client: RpcClient): ProgramClient<(typeof ${name})['versions']['${version.name}']> {`
          : `export function ${client}(client) {`,
      )
      lines.push(`  return programClient(client, ${name}, '${version.name}')`, '}')
    }
    return lines
  }
}
