/**
 * A typed client for one version of a program: a method per procedure.
 *
 * @module
 */

import { InvalidOptionError } from '@socketserver/core'
import type { ProcedureDefinition, ProgramDefinition, VersionDefinition } from '../program/program.js'
import type { CallOptions, RpcClient } from './rpc-client.js'

/** One version's procedures as methods: each takes the argument and resolves to the result. */
export type ProgramClient<V extends VersionDefinition> = {
  readonly [K in keyof V['procedures']]: V['procedures'][K] extends ProcedureDefinition<infer A, infer R>
    ? (args: A, options?: CallOptions) => Promise<R>
    : never
}

/**
 * Binds a client to one version of a program.
 *
 * @param client - The connection.
 * @param program - The program's definition.
 * @param version - The version's name in it.
 * @returns A method per procedure (procedure 0 only if the definition has it).
 * @throws InvalidOptionError when the program has no such version.
 * @example
 * ```ts
 * const kv = programClient(await RpcClient.connect({ transport: 'tcp', host: '127.0.0.1', port }), KeyValue, 'KV_V1')
 * await kv.PUT({ key: 'a', value: Buffer.from('1') })
 * await kv.GET('a') // Uint8Array [ 49 ]
 * ```
 */
export function programClient<const P extends ProgramDefinition, const N extends keyof P['versions'] & string>(
  client: RpcClient,
  program: P,
  version: N,
): ProgramClient<P['versions'][N]> {
  const definition = program.versions[version]
  if (definition === undefined)
    throw new InvalidOptionError('version', `Cannot call ${program.name} ${version}: the program has no such version`)
  const methods: Record<string, (args: unknown, options?: CallOptions) => Promise<unknown>> = {}
  for (const [name, procedure] of Object.entries(definition.procedures)) {
    methods[name] = (args, options) => client.call(program.number, definition.number, procedure, args, options)
  }
  return Object.freeze(methods) as ProgramClient<P['versions'][N]>
}
