/**
 * XDR types (RFC 4506) as values: each knows how to encode and decode one
 * kind of value, and TypeScript infers the value's type from it, so a
 * struct of an int and a string decodes to `{ x: number; name: string }`.
 *
 * @module
 */

import { XdrError } from './xdr-error.js'
import { XdrReader } from './xdr-reader.js'
import { XdrWriter } from './xdr-writer.js'

/** One XDR type: how its values are written and read. */
export interface XdrType<T> {
  /** The type as RFC 4506 writes it (`int`, `opaque<16>`, `struct { ... }`), for messages. */
  readonly name: string
  /** The fewest bytes a value takes on the wire (a count of elements that the bytes left cannot hold is refused before decoding them). */
  readonly minBytes: number
  /** Appends `value`; throws XdrError when it is not a value of this type. */
  encode(value: T, writer: XdrWriter): void
  /** Reads one value; throws XdrError for bytes that are not one. */
  decode(reader: XdrReader): T
}

/** The value type of an XDR type. */
export type XdrValue<X> = X extends XdrType<infer T> ? T : never

/** A discriminated union's value: the arm chosen and its value (`undefined` for a void arm). */
export interface XdrUnionValue<D, T> {
  readonly tag: D
  readonly value: T
}

const INT_MIN = -(2 ** 31)
const INT_MAX = 2 ** 31 - 1
const UINT_MAX = 2 ** 32 - 1
const HYPER_MIN = -(2n ** 63n)
const HYPER_MAX = 2n ** 63n - 1n
const UHYPER_MAX = 2n ** 64n - 1n
/** XDR's own limit on a variable length: an unsigned int. */
const NO_BOUND = UINT_MAX

function fail(name: string, value: unknown, why: string): never {
  throw new XdrError(`Cannot encode ${describe(value)} as ${name}: ${why}`)
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
  if (value instanceof Uint8Array) return `${value.length} bytes`
  if (Array.isArray(value)) return `an array of ${value.length}`
  return typeof value === 'object' && value !== null ? 'an object' : String(value)
}

function boundOf(max: number | undefined, what: string): number {
  const bound = max ?? NO_BOUND
  if (!Number.isInteger(bound) || bound < 0 || bound > NO_BOUND)
    throw new XdrError(`Cannot make ${what}: its bound must be a whole number up to 2^32 - 1`)
  return bound
}

/** `int`: a signed 32-bit integer. */
const int: XdrType<number> = {
  name: 'int',
  minBytes: 4,
  encode(value, writer) {
    if (!Number.isInteger(value) || value < INT_MIN || value > INT_MAX) fail('int', value, 'expected a whole number from -2^31 to 2^31 - 1')
    writer.int32(value)
  },
  decode: (reader) => reader.int32(),
}

/** `unsigned int`. */
const unsigned: XdrType<number> = {
  name: 'unsigned int',
  minBytes: 4,
  encode(value, writer) {
    if (!Number.isInteger(value) || value < 0 || value > UINT_MAX) fail('unsigned int', value, 'expected a whole number from 0 to 2^32 - 1')
    writer.uint32(value)
  },
  decode: (reader) => reader.uint32(),
}

/** `hyper`: a signed 64-bit integer, as a bigint. */
const hyper: XdrType<bigint> = {
  name: 'hyper',
  minBytes: 8,
  encode(value, writer) {
    if (typeof value !== 'bigint' || value < HYPER_MIN || value > HYPER_MAX)
      fail('hyper', value, 'expected a bigint from -2^63 to 2^63 - 1')
    writer.int64(value)
  },
  decode: (reader) => reader.int64(),
}

/** `unsigned hyper`, as a bigint. */
const unsignedHyper: XdrType<bigint> = {
  name: 'unsigned hyper',
  minBytes: 8,
  encode(value, writer) {
    if (typeof value !== 'bigint' || value < 0n || value > UHYPER_MAX) fail('unsigned hyper', value, 'expected a bigint from 0 to 2^64 - 1')
    writer.uint64(value)
  },
  decode: (reader) => reader.uint64(),
}

/** `float`: an IEEE single (a number that is not one is rounded to one). */
const float: XdrType<number> = {
  name: 'float',
  minBytes: 4,
  encode(value, writer) {
    if (typeof value !== 'number') fail('float', value, 'expected a number')
    writer.float32(value)
  },
  decode: (reader) => reader.float32(),
}

/** `double`: an IEEE double. */
const double: XdrType<number> = {
  name: 'double',
  minBytes: 8,
  encode(value, writer) {
    if (typeof value !== 'number') fail('double', value, 'expected a number')
    writer.float64(value)
  },
  decode: (reader) => reader.float64(),
}

/** `bool`: 0 or 1 on the wire, nothing else. */
const bool: XdrType<boolean> = {
  name: 'bool',
  minBytes: 4,
  encode(value, writer) {
    if (typeof value !== 'boolean') fail('bool', value, 'expected true or false')
    writer.int32(value ? 1 : 0)
  },
  decode(reader) {
    const value = reader.int32('bool')
    if (value !== 0 && value !== 1) throw new XdrError(`Cannot decode bool: ${value} is neither 0 (FALSE) nor 1 (TRUE)`)
    return value === 1
  },
}

/** `void`: nothing on the wire. */
const voidType: XdrType<undefined> = {
  name: 'void',
  minBytes: 0,
  encode() {},
  decode: () => undefined,
}

/**
 * `enum { NAME = value, ... }`: a value is one of the names; on the wire,
 * its number (a value not declared is refused both ways).
 *
 * @param values - The names and their numbers.
 * @returns The type; values are the names, as strings.
 * @example
 * ```ts
 * const Color = xdr.enumeration({ RED: 0, GREEN: 1, BLUE: 2 })
 * ```
 */
function enumeration<const E extends Record<string, number>>(values: E): XdrType<keyof E & string> {
  const byNumber = new Map<number, keyof E & string>()
  for (const [key, number] of Object.entries(values)) {
    if (!Number.isInteger(number) || number < INT_MIN || number > INT_MAX)
      throw new XdrError(`Cannot make enum: ${key} = ${number} is not an int`)
    byNumber.set(number, key as keyof E & string)
  }
  const name = `enum { ${Object.entries(values)
    .map(([key, number]) => `${key} = ${number}`)
    .join(', ')} }`
  return {
    name,
    minBytes: 4,
    encode(value, writer) {
      const number = Object.hasOwn(values, value) ? values[value] : undefined
      if (number === undefined) fail('enum', value, `expected one of ${Object.keys(values).join(', ')}`)
      writer.int32(number)
    },
    decode(reader) {
      const number = reader.int32('enum')
      const key = byNumber.get(number)
      if (key === undefined) throw new XdrError(`Cannot decode ${name}: ${number} is not one of its values`)
      return key
    },
  }
}

/**
 * `opaque name[length]`: exactly `length` bytes.
 *
 * @param length - The number of bytes.
 * @returns The type; decoded values are copies.
 */
function opaque(length: number): XdrType<Uint8Array> {
  const name = `opaque[${length}]`
  boundOf(length, name)
  return {
    name,
    minBytes: length + ((4 - (length % 4)) % 4),
    encode(value, writer) {
      if (!(value instanceof Uint8Array) || value.length !== length) fail(name, value, `expected exactly ${length} bytes`)
      writer.bytes(value)
    },
    decode: (reader) => Uint8Array.prototype.slice.call(reader.bytes(length, name)),
  }
}

/**
 * `opaque name<max>`: up to `max` bytes, with their length first.
 *
 * @param max - The most bytes (default: XDR's own limit, 2^32 - 1).
 * @returns The type; decoded values are copies.
 */
function varOpaque(max?: number): XdrType<Uint8Array> {
  const name = max === undefined ? 'opaque<>' : `opaque<${max}>`
  const bound = boundOf(max, name)
  return {
    name,
    minBytes: 4,
    encode(value, writer) {
      if (!(value instanceof Uint8Array)) fail(name, value, 'expected bytes')
      if (value.length > bound) fail(name, value, `at most ${bound} bytes`)
      writer.uint32(value.length)
      writer.bytes(value)
    },
    decode(reader) {
      const length = reader.uint32(name)
      if (length > bound) throw new XdrError(`Cannot decode ${name}: a length of ${length} is over its bound`)
      return Uint8Array.prototype.slice.call(reader.bytes(length, name))
    },
  }
}

/**
 * `string name<max>`: up to `max` bytes of text (UTF-8 here; XDR says
 * ASCII), with their length first.
 *
 * @param max - The most bytes (default 2^32 - 1).
 * @returns The type.
 */
function string(max?: number): XdrType<string> {
  const name = max === undefined ? 'string<>' : `string<${max}>`
  const bound = boundOf(max, name)
  return {
    name,
    minBytes: 4,
    encode(value, writer) {
      if (typeof value !== 'string') fail(name, value, 'expected a string')
      const bytes = Buffer.from(value, 'utf8')
      if (bytes.length > bound) fail(name, value, `at most ${bound} bytes (it is ${bytes.length})`)
      writer.uint32(bytes.length)
      writer.bytes(bytes)
    },
    decode(reader) {
      const length = reader.uint32(name)
      if (length > bound) throw new XdrError(`Cannot decode ${name}: a length of ${length} is over its bound`)
      const bytes = reader.bytes(length, name)
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8')
    },
  }
}

/**
 * `type name[length]`: exactly `length` elements.
 *
 * @param element - The elements' type.
 * @param length - How many.
 * @returns The type.
 */
function array<T>(element: XdrType<T>, length: number): XdrType<T[]> {
  const name = `${element.name}[${length}]`
  boundOf(length, name)
  return {
    name,
    minBytes: length * element.minBytes,
    encode(value, writer) {
      if (!Array.isArray(value) || value.length !== length) fail(name, value, `expected an array of exactly ${length}`)
      for (const item of value) element.encode(item, writer)
    },
    decode(reader) {
      // Bytes that cannot hold them all are refused before any is decoded.
      if (length * element.minBytes > reader.remaining) {
        throw new XdrError(`Cannot decode ${name}: ${length} elements cannot fit in the ${reader.remaining} bytes left`)
      }
      const items: T[] = []
      for (let i = 0; i < length; i++) items.push(element.decode(reader))
      return items
    },
  }
}

/**
 * `type name<max>`: up to `max` elements, with their count first.
 *
 * @param element - The elements' type.
 * @param max - The most elements (default 2^32 - 1).
 * @returns The type.
 */
function varArray<T>(element: XdrType<T>, max?: number): XdrType<T[]> {
  const name = max === undefined ? `${element.name}<>` : `${element.name}<${max}>`
  const bound = boundOf(max, name)
  return {
    name,
    minBytes: 4,
    encode(value, writer) {
      if (!Array.isArray(value)) fail(name, value, 'expected an array')
      if (value.length > bound) fail(name, value, `at most ${bound} elements`)
      writer.uint32(value.length)
      for (const item of value) element.encode(item, writer)
    },
    decode(reader) {
      const count = reader.uint32(name)
      if (count > bound) throw new XdrError(`Cannot decode ${name}: a count of ${count} is over its bound`)
      // A count the bytes left cannot hold is refused at once, before an array of that size is made.
      if (count * element.minBytes > reader.remaining) {
        throw new XdrError(`Cannot decode ${name}: ${count} elements cannot fit in the ${reader.remaining} bytes left`)
      }
      const items: T[] = []
      for (let i = 0; i < count; i++) items.push(element.decode(reader))
      return items
    },
  }
}

/**
 * `struct { ... }`: the fields in the order given.
 *
 * @param fields - Each field's name and type, in wire order.
 * @returns The type; values are plain objects with those fields.
 * @example
 * ```ts
 * const Entry = xdr.struct({ key: xdr.string(256), value: xdr.varOpaque(1024) })
 * type Entry = XdrValue<typeof Entry> // { key: string; value: Uint8Array }
 * ```
 */
function struct<const F extends Record<string, XdrType<unknown>>>(fields: F): XdrType<{ -readonly [K in keyof F]: XdrValue<F[K]> }> {
  const entries = Object.entries(fields)
  const name = `struct { ${entries.map(([key, type]) => `${type.name} ${key};`).join(' ')} }`
  type Value = { -readonly [K in keyof F]: XdrValue<F[K]> }
  return {
    name,
    minBytes: entries.reduce((sum, [, type]) => sum + type.minBytes, 0),
    encode(value, writer) {
      if (typeof value !== 'object' || value === null) fail(name, value, 'expected an object')
      for (const [key, type] of entries) {
        if (!(key in value)) fail(name, value, `the field ${key} is missing`)
        type.encode((value as Record<string, unknown>)[key], writer)
      }
    },
    decode(reader) {
      const value: Record<string, unknown> = {}
      for (const [key, type] of entries) value[key] = type.decode(reader)
      return value as Value
    },
  }
}

/**
 * `union switch (discriminant) { case ...: ...; default: ... }`: the
 * discriminant (an int, unsigned int, bool or enum) then the arm it chooses.
 *
 * @param discriminant - The discriminant's type.
 * @param arms - For each case value (as its key: a number, an enum name, `true`/`false`), the arm's type; `xdr.void` for none.
 * @param defaultArm - The arm of any other value; without it, another value is refused.
 * @returns The type; values are `{ tag, value }`.
 * @example
 * ```ts
 * const Result = xdr.union(xdr.enumeration({ OK: 0, ERR: 1 }), { OK: xdr.int, ERR: xdr.string() })
 * encode(Result, { tag: 'OK', value: 42 })
 * ```
 */
function union<D extends number | string | boolean, const A extends Record<string, XdrType<unknown>>, T = never>(
  discriminant: XdrType<D>,
  arms: A,
  defaultArm?: XdrType<T>,
): XdrType<XdrUnionValue<D, XdrValue<A[keyof A]> | T>> {
  type Arm = XdrType<XdrValue<A[keyof A]> | T>
  const name = `union switch (${discriminant.name}) { ${Object.entries(arms)
    .map(([tag, type]) => `case ${tag}: ${type.name};`)
    .join(' ')}${defaultArm === undefined ? '' : ` default: ${defaultArm.name};`} }`
  const armOf = (tag: D): Arm | undefined =>
    Object.hasOwn(arms, String(tag)) ? (arms[String(tag)] as Arm) : (defaultArm as Arm | undefined)
  const armTypes = [...Object.values(arms), ...(defaultArm === undefined ? [] : [defaultArm])]
  return {
    name,
    minBytes: discriminant.minBytes + (armTypes.length === 0 ? 0 : Math.min(...armTypes.map((type) => type.minBytes))),
    encode(value, writer) {
      if (typeof value !== 'object' || value === null || !('tag' in value)) fail(name, value, 'expected { tag, value }')
      const arm = armOf(value.tag)
      if (arm === undefined) fail(name, value.tag, 'no arm has that discriminant, and there is no default')
      discriminant.encode(value.tag, writer)
      arm.encode(value.value, writer)
    },
    decode(reader) {
      const tag = discriminant.decode(reader)
      const arm = armOf(tag)
      if (arm === undefined) throw new XdrError(`Cannot decode ${name}: no arm for the discriminant ${String(tag)}`)
      return { tag, value: arm.decode(reader) }
    },
  }
}

/**
 * `type *name`: optional data, a bool then the value when it is there.
 *
 * @param type - The value's type.
 * @returns The type; absent is `undefined`.
 */
function optional<T>(type: XdrType<T>): XdrType<T | undefined> {
  return {
    name: `${type.name} *`,
    minBytes: 4,
    encode(value, writer) {
      writer.int32(value === undefined ? 0 : 1)
      if (value !== undefined) type.encode(value, writer)
    },
    decode(reader) {
      const present = bool.decode(reader)
      return present ? type.decode(reader) : undefined
    },
  }
}

/**
 * The linked list of RFC 4506 section 4.19, `struct item { T value; item
 * *next; }`: each element behind a TRUE, then a FALSE. Read and written as
 * an array, without recursion, so a long list cannot overflow the stack
 * (the portmapper's DUMP replies are such lists).
 *
 * @param element - The type of each element (the struct without its `next`).
 * @param max - The most elements a decoded list may have. Default 2^32 - 1.
 * @returns The type; values are arrays.
 * @example
 * ```ts
 * const Mappings = xdr.linkedList(xdr.struct({ prog: xdr.unsigned, vers: xdr.unsigned, prot: xdr.unsigned, port: xdr.unsigned }))
 * encode(Mappings, []) // 00 00 00 00
 * ```
 */
function linkedList<T>(element: XdrType<T>, max?: number): XdrType<T[]> {
  const name = `${element.name} *next`
  const bound = boundOf(max, name)
  return {
    name,
    minBytes: 4,
    encode(value, writer) {
      if (!Array.isArray(value)) fail(name, value, 'expected an array')
      if (value.length > bound) fail(name, value, `at most ${bound} elements`)
      for (const item of value) {
        writer.int32(1)
        element.encode(item, writer)
      }
      writer.int32(0)
    },
    decode(reader) {
      const items: T[] = []
      while (bool.decode(reader)) {
        if (items.length === bound) throw new XdrError(`Cannot decode ${name}: more than ${bound} elements`)
        items.push(element.decode(reader))
      }
      return items
    },
  }
}

/**
 * A type defined in terms of itself (`struct node { int value; node *next; }`
 * written as such, or a tree): `resolve` is called on first use.
 *
 * @param resolve - Returns the type.
 * @returns A type that defers to it.
 * @example
 * ```ts
 * type Tree = { value: number; children: Tree[] }
 * const Tree: XdrType<Tree> = xdr.struct({ value: xdr.int, children: xdr.varArray(xdr.lazy(() => Tree)) })
 * ```
 */
function lazy<T>(resolve: () => XdrType<T>): XdrType<T> {
  let type: XdrType<T> | undefined
  const target = (): XdrType<T> => {
    type ??= resolve()
    return type
  }
  return {
    get name() {
      return type === undefined ? 'lazy' : type.name
    },
    // The type may not exist yet when an enclosing type asks: claim nothing (a count is then checked as each element is read).
    minBytes: 0,
    encode: (value, writer) => target().encode(value, writer),
    decode: (reader) => target().decode(reader),
  }
}

/**
 * The XDR types. Compose them into the types of a protocol; `encode()` and
 * `decode()` use them.
 *
 * @example
 * ```ts
 * const Point = xdr.struct({ x: xdr.int, y: xdr.int, label: xdr.optional(xdr.string(64)) })
 * const bytes = encode(Point, { x: 1, y: -2, label: undefined })
 * decode(Point, bytes) // { x: 1, y: -2, label: undefined }
 * ```
 */
export const xdr = {
  int,
  unsigned,
  hyper,
  unsignedHyper,
  float,
  double,
  bool,
  void: voidType,
  enumeration,
  opaque,
  varOpaque,
  string,
  array,
  varArray,
  struct,
  union,
  optional,
  linkedList,
  lazy,
} as const

/**
 * Encodes one value.
 *
 * @param type - Its XDR type.
 * @param value - The value.
 * @returns The bytes (a multiple of 4).
 * @throws XdrError when `value` is not a value of `type`.
 * @example
 * ```ts
 * encode(xdr.string(16), 'hi') // 00 00 00 02 68 69 00 00
 * ```
 */
export function encode<T>(type: XdrType<T>, value: T): Uint8Array {
  const writer = new XdrWriter()
  type.encode(value, writer)
  return new Uint8Array(writer.result()) // a copy of its own, as a plain Uint8Array
}

/**
 * Decodes one value that fills `bytes` exactly.
 *
 * @param type - Its XDR type.
 * @param bytes - The encoded value.
 * @returns The value.
 * @throws XdrError for bytes that are not one value of `type` (too few,
 *   out of bounds, or bytes left over).
 * @example
 * ```ts
 * decode(xdr.int, Uint8Array.of(0xff, 0xff, 0xff, 0xfe)) // -2
 * ```
 */
export function decode<T>(type: XdrType<T>, bytes: Uint8Array): T {
  const reader = new XdrReader(bytes)
  const value = type.decode(reader)
  if (reader.remaining !== 0) throw new XdrError(`Cannot decode ${type.name}: ${reader.remaining} bytes are left after it`)
  return value
}
