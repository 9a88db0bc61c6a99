/**
 * Programs as data: a program's number, its versions, and each version's
 * procedures with their argument and result XDR types. A definition is
 * what a `.x` file says; `implement()` adds the code.
 *
 * @module
 */

import { InvalidOptionError } from '@socketserver/core'
import type { XdrType } from '../xdr/xdr-types.js'

/** One procedure: its number and the XDR types of its argument and result (`xdr.void` for none). */
export interface ProcedureDefinition<A = unknown, R = unknown> {
  readonly number: number
  readonly args: XdrType<A>
  readonly result: XdrType<R>
}

/** One version of a program: its number and its procedures by name. */
export interface VersionDefinition {
  readonly number: number
  // biome-ignore lint/suspicious/noExplicitAny: each procedure has types of its own; `unknown` would refuse them (XdrType is invariant)
  readonly procedures: Readonly<Record<string, ProcedureDefinition<any, any>>>
}

/** A program: its name (for messages), its number, and its versions by name. */
export interface ProgramDefinition {
  readonly name: string
  readonly number: number
  readonly versions: Readonly<Record<string, VersionDefinition>>
}

function checkNumber(value: unknown, what: string): void {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 0xffff_ffff) {
    throw new InvalidOptionError(
      'number',
      `Cannot define ${what}: its number must be a whole number from 0 to 2^32 - 1, not ${String(value)}`,
    )
  }
}

/**
 * Checks a program's definition and keeps its literal types, so that
 * `implement()` and `programClient()` know each procedure's argument and
 * result. The compiler (`socketserver rpcgen`) writes these from `.x`
 * files; by hand they read like the `.x` file.
 *
 * @param definition - The program.
 * @returns The same definition, checked.
 * @throws InvalidOptionError for a number out of range, two versions with
 *   one number, two procedures of a version with one number.
 * @example
 * ```ts
 * const KeyValue = defineProgram({
 *   name: 'KV_PROG', number: 0x2000_0101,
 *   versions: {
 *     KV_V1: { number: 1, procedures: {
 *       GET: { number: 1, args: xdr.string(256), result: xdr.optional(xdr.varOpaque()) },
 *       PUT: { number: 2, args: xdr.struct({ key: xdr.string(256), value: xdr.varOpaque() }), result: xdr.bool },
 *     } },
 *   },
 * })
 * ```
 */
export function defineProgram<const P extends ProgramDefinition>(definition: P): P {
  checkNumber(definition.number, `program ${definition.name}`)
  const versions = new Set<number>()
  for (const [versionName, version] of Object.entries(definition.versions)) {
    checkNumber(version.number, `version ${versionName} of ${definition.name}`)
    if (versions.has(version.number))
      throw new InvalidOptionError('versions', `Cannot define ${definition.name}: two versions are number ${version.number}`)
    versions.add(version.number)
    const procedures = new Set<number>()
    for (const [procedureName, procedure] of Object.entries(version.procedures)) {
      checkNumber(procedure.number, `procedure ${procedureName} of ${definition.name} ${versionName}`)
      if (procedures.has(procedure.number)) {
        throw new InvalidOptionError(
          'procedures',
          `Cannot define ${definition.name} ${versionName}: two procedures are number ${procedure.number}`,
        )
      }
      procedures.add(procedure.number)
    }
  }
  return definition
}
