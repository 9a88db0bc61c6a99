/**
 * A program's definition joined to the code of its procedures: what a
 * server dispatches calls to.
 *
 * @module
 */

import { InvalidOptionError, type SocketAddress, type SocketRequest } from '@socketserver/core'
import type { Credential } from '../rpc/credentials.js'
import type { XdrType } from '../xdr/xdr-types.js'
import type { ProcedureDefinition, ProgramDefinition, VersionDefinition } from './program.js'

/** What a procedure is told about the call it runs. */
export interface RpcCall {
  /** The caller's transaction id. */
  readonly xid: number
  readonly program: number
  readonly version: number
  readonly procedure: number
  /** The caller's credentials: AUTH_NONE (`{ flavor: 'none' }`) or AUTH_SYS (uid, gid, gids, machine name). */
  readonly credential: Credential
  /** The caller's address. */
  readonly clientAddress: SocketAddress
  /** The request (a connection or a datagram) the call came in. */
  readonly request: SocketRequest
  /** Aborts when the call must stop (the request's timeout, the drain deadline, the connection lost). */
  readonly signal: AbortSignal
}

/** The code of one procedure: from its argument to its result (or a promise of it). */
export type ProcedureImplementation<D> =
  D extends ProcedureDefinition<infer A, infer R> ? (args: A, call: RpcCall) => Returned<R> | Promise<Returned<R>> : never

/** What a procedure returns: its result; for a void result, nothing. */
// biome-ignore lint/suspicious/noConfusingVoidType: a function that returns nothing infers `void`, and must be accepted for a void result
export type Returned<R> = undefined extends R ? R | void : R

/** The number of a procedure definition, as a literal type (procedure 0 may be left out of an implementation). */
export type ProcedureNumber<D> = D extends { readonly number: infer N } ? N : never

/**
 * The code of one version: every procedure of its definition, except
 * procedure 0 (NULL), which is answered when it is left out.
 */
export type VersionImplementation<V extends VersionDefinition> = {
  readonly [K in keyof V['procedures'] as ProcedureNumber<V['procedures'][K]> extends 0 ? never : K]: ProcedureImplementation<
    V['procedures'][K]
  >
} & {
  readonly [K in keyof V['procedures'] as ProcedureNumber<V['procedures'][K]> extends 0 ? K : never]?: ProcedureImplementation<
    V['procedures'][K]
  >
}

/** The code of a program: the versions it serves (one at least), by their names in the definition. */
export type ProgramImplementation<P extends ProgramDefinition> = {
  readonly [V in keyof P['versions']]?: VersionImplementation<P['versions'][V]>
}

/** One procedure ready to run. */
export interface ServedProcedure {
  readonly name: string
  readonly args: XdrType<unknown>
  readonly result: XdrType<unknown>
  readonly run: (args: unknown, call: RpcCall) => unknown
}

/** One version ready to run: its procedures by number. */
export interface ServedVersion {
  readonly number: number
  readonly procedures: ReadonlyMap<number, ServedProcedure>
}

/**
 * A program with its code, ready to serve: give it (or several) to
 * `rpcHandler()`, `registerWithPortmapper()`.
 */
export interface RpcProgram {
  readonly name: string
  readonly number: number
  /** The versions served, by number. */
  readonly versions: ReadonlyMap<number, ServedVersion>
  /** The lowest and highest versions served (a PROG_MISMATCH reply gives them). */
  readonly low: number
  readonly high: number
}

const NULL_PROCEDURE: ServedProcedure = {
  name: 'NULL',
  args: { name: 'void', minBytes: 0, encode() {}, decode: () => undefined },
  result: { name: 'void', minBytes: 0, encode() {}, decode: () => undefined },
  run: () => undefined,
}

/**
 * Joins a program's definition and its code. Procedure 0 of every version
 * served answers with nothing unless the code gives it.
 *
 * @param definition - The program, from `defineProgram()` or the compiler.
 * @param implementation - For each version served (by its name), a
 *   function per procedure.
 * @returns The program, ready for `rpcHandler()`.
 * @throws InvalidOptionError when no version is implemented, a version
 *   name is not in the definition, or a procedure is not a function.
 * @example
 * ```ts
 * const store = new Map<string, Uint8Array>()
 * const program = implement(KeyValue, {
 *   KV_V1: {
 *     GET: (key) => store.get(key),
 *     PUT: ({ key, value }) => (store.set(key, value), true),
 *   },
 * })
 * await serve(server, rpcHandler(program), { signal })
 * ```
 */
export function implement<const P extends ProgramDefinition>(definition: P, implementation: ProgramImplementation<P>): RpcProgram {
  const versions = new Map<number, ServedVersion>()
  const code = implementation as Record<string, Record<string, unknown> | undefined>
  for (const name of Object.keys(code)) {
    if (!Object.hasOwn(definition.versions, name)) {
      throw new InvalidOptionError(
        'implementation',
        `Cannot implement ${definition.name}: it has no version ${name} (it has ${Object.keys(definition.versions).join(', ')})`,
      )
    }
  }
  for (const [versionName, version] of Object.entries(definition.versions)) {
    const functions = code[versionName]
    if (functions === undefined) continue
    const procedures = new Map<number, ServedProcedure>([[0, NULL_PROCEDURE]])
    for (const [procedureName, procedure] of Object.entries(version.procedures)) {
      const run = functions[procedureName]
      if (run === undefined && procedure.number === 0) continue
      if (typeof run !== 'function') {
        throw new InvalidOptionError(
          'implementation',
          `Cannot implement ${definition.name} ${versionName}: ${procedureName} is not a function`,
        )
      }
      procedures.set(procedure.number, {
        name: procedureName,
        args: procedure.args,
        result: procedure.result,
        run: run as (args: unknown, call: RpcCall) => unknown,
      })
    }
    versions.set(version.number, { number: version.number, procedures })
  }
  if (versions.size === 0) throw new InvalidOptionError('implementation', `Cannot implement ${definition.name}: no version has code`)
  const numbers = [...versions.keys()]
  return { name: definition.name, number: definition.number, versions, low: Math.min(...numbers), high: Math.max(...numbers) }
}

/** The value types of a procedure definition, for tools. */
export type ProcedureArgs<D> = D extends ProcedureDefinition<infer A, unknown> ? A : never
/** The result type of a procedure definition. */
export type ProcedureResult<D> = D extends ProcedureDefinition<unknown, infer R> ? R : never
