/**
 * What a `.x` file says, as the parser reads it.
 *
 * @module
 * @internal
 */

/**
 * A number written out, or the name of a constant (resolved later: a `.x`
 * file may use a name defined below), plus `plus` (an enum member without a
 * value is the one before it plus one).
 */
export type Value =
  | { readonly number: number }
  | { readonly name: string; readonly line: number; readonly column: number; readonly plus?: number }

/** A type specifier: a base type, a name, or a type written in place. */
export type TypeSpec =
  | { readonly kind: 'int' | 'unsigned' | 'hyper' | 'unsignedHyper' | 'float' | 'double' | 'bool' | 'void' | 'string' | 'opaque' }
  | { readonly kind: 'named'; readonly name: string; readonly line: number; readonly column: number }
  | { readonly kind: 'enum'; readonly body: EnumBody }
  | { readonly kind: 'struct'; readonly body: StructBody }
  | { readonly kind: 'union'; readonly body: UnionBody }

/** A declaration: a type, a name, and its shape (plain, `[n]`, `<n>`, `*`), or `void`. */
export interface Declaration {
  readonly name: string
  readonly type: TypeSpec
  readonly shape: 'plain' | 'fixed' | 'variable' | 'optional' | 'void'
  /** The `[n]` or `<n>` (absent for `<>`). */
  readonly size?: Value
  readonly line: number
  readonly column: number
}

export interface EnumBody {
  readonly members: readonly { readonly name: string; readonly value: Value }[]
}

export interface StructBody {
  readonly fields: readonly Declaration[]
}

export interface UnionBody {
  readonly discriminant: Declaration
  readonly cases: readonly { readonly values: readonly Value[]; readonly arm: Declaration }[]
  readonly defaultArm?: Declaration
}

export interface Procedure {
  readonly name: string
  readonly number: Value
  readonly result: TypeSpec
  readonly args: readonly TypeSpec[]
}

export interface Version {
  readonly name: string
  readonly number: Value
  readonly procedures: readonly Procedure[]
}

/** One definition of the file. */
export type Definition =
  | { readonly kind: 'const'; readonly name: string; readonly value: Value }
  | { readonly kind: 'enum'; readonly name: string; readonly body: EnumBody }
  | { readonly kind: 'struct'; readonly name: string; readonly body: StructBody }
  | { readonly kind: 'union'; readonly name: string; readonly body: UnionBody }
  | { readonly kind: 'typedef'; readonly name: string; readonly declaration: Declaration }
  | { readonly kind: 'program'; readonly name: string; readonly number: Value; readonly versions: readonly Version[] }
