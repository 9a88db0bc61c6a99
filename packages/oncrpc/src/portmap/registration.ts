/**
 * Registering a program's transports with the host's portmapper, and
 * taking them back.
 *
 * @module
 */

import { existsSync } from 'node:fs'
import { InvalidOptionError, type Server } from '@socketserver/core'
import { RpcClient, type RpcClientOptions } from '../client/rpc-client.js'
import type { RpcProgram } from '../program/implement.js'
import { sysCredential } from '../rpc/credentials.js'
import { PortmapperError, RpcReplyError } from '../rpc-errors.js'
import { IPPROTO_TCP, IPPROTO_UDP, PMAP_PORT, PMAP_PROGRAM, Portmapper } from './portmap-protocol.js'
import { parseUniversalAddress, type UniversalAddress, universalAddressOf } from './universal-address.js'

/** Where rpcbind listens for local callers (its Unix socket); the only place Debian's rpcbind takes SET from by default. */
export const RPCBIND_SOCKET = '/run/rpcbind.sock'

/** Where a portmapper is: an {@link RpcClientOptions} address. */
export type PortmapperAddress =
  | { readonly transport: 'tcp' | 'udp'; readonly host: string; readonly port: number }
  | { readonly transport: 'unix'; readonly path: string }

/** Options of {@link registerWithPortmapper}. */
export interface RegisterOptions {
  /** The portmapper. Default its Unix socket ({@link RPCBIND_SOCKET}) when it exists, else TCP 127.0.0.1:111. */
  readonly portmapper?: PortmapperAddress
  /** How long each call to it may take, in ms. Default 5,000. */
  readonly timeoutMs?: number
}

/** One mapping made: a program version on a netid at an address, through the portmapper version that took it. */
export interface Registered {
  readonly program: number
  readonly version: number
  readonly netid: string
  readonly address: string
  /** 4 (rpcbind) or 2 (a version 2 portmapper). */
  readonly through: 2 | 4
}

/** What {@link registerWithPortmapper} made: the mappings, and how to take them back. */
export interface Registration {
  readonly registered: readonly Registered[]
  /** Takes every mapping back (UNSET). Idempotent. */
  unregister(): Promise<void>
}

/**
 * Registers every version of every program on every server's address with
 * the portmapper, as rpcgen's servers do at start: each old mapping of the
 * same program, version and netid is taken back first (UNSET), then SET.
 * Through rpcbind (versions 4, then 3) every netid is registered (`tcp`,
 * `udp`, `tcp6`, `udp6`, `local` for a Unix stream socket); a version 2
 * portmapper gets `tcp` and `udp` (PMAPPROC_SET). Unix datagram servers
 * are skipped (rpcbind has no netid for them).
 *
 * @param programs - The programs (from `implement()`).
 * @param servers - The servers they are served on (their `address`).
 * @param options - The portmapper's address, the timeout.
 * @returns The mappings made; `unregister()` to take them back when serving stops.
 * @throws PortmapperError when the portmapper cannot be reached or refuses a SET.
 * @example
 * ```ts
 * const registration = await registerWithPortmapper(program, [tcp, udp])
 * try { await Promise.all([serve(tcp, handler, { signal }), serve(udp, handler, { signal })]) }
 * finally { await registration.unregister() }
 * ```
 */
export async function registerWithPortmapper(
  programs: RpcProgram | readonly RpcProgram[],
  servers: readonly Pick<Server, 'address'>[],
  options: RegisterOptions = {},
): Promise<Registration> {
  const list = Array.isArray(programs) ? programs : [programs as RpcProgram]
  if (list.length === 0) throw new InvalidOptionError('programs', 'Cannot register with the portmapper: no program')
  const addresses = servers.map((server) => universalAddressOf(server.address)).filter((a): a is UniversalAddress => a !== undefined)
  const target = options.portmapper ?? defaultPortmapper()
  const registered: Registered[] = []
  await withPortmapper(target, options.timeoutMs, async (pmap) => {
    for (const program of list) {
      for (const version of [...program.versions.keys()]) {
        for (const address of addresses) registered.push(await pmap.set(program.number, version, address))
      }
    }
  })
  let unregistered: Promise<void> | undefined
  return {
    registered,
    unregister() {
      unregistered ??= withPortmapper(target, options.timeoutMs, async (pmap) => {
        for (const entry of registered) await pmap.unset(entry)
      })
      return unregistered
    },
  }
}

function defaultPortmapper(): PortmapperAddress {
  return existsSync(RPCBIND_SOCKET) ? { transport: 'unix', path: RPCBIND_SOCKET } : { transport: 'tcp', host: '127.0.0.1', port: PMAP_PORT }
}

function describe(target: PortmapperAddress): string {
  return target.transport === 'unix' ? target.path : `${target.transport} ${target.host}:${target.port}`
}

interface PortmapperCalls {
  set(program: number, version: number, address: UniversalAddress): Promise<Registered>
  unset(entry: Registered): Promise<void>
}

async function withPortmapper(target: PortmapperAddress, timeoutMs = 5000, work: (pmap: PortmapperCalls) => Promise<void>): Promise<void> {
  let client: RpcClient
  try {
    client = await RpcClient.connect({ ...(target as RpcClientOptions), credential: sysCredential(), timeoutMs })
  } catch (error) {
    throw new PortmapperError(`Cannot reach the portmapper at ${describe(target)}: ${(error as Error).message}`, { cause: error })
  }
  const v2 = Portmapper.versions.PMAP_VERS
  const v4 = Portmapper.versions.RPCBVERS4
  const v3 = Portmapper.versions.RPCBVERS
  /** The rpcbind version the portmapper speaks (4, then 3), or 2 when it speaks neither. */
  let rpcbVersion: 4 | 3 | 2 | undefined
  const speaks = async (): Promise<4 | 3 | 2> => {
    if (rpcbVersion !== undefined) return rpcbVersion
    for (const version of [4, 3] as const) {
      try {
        await client.call(PMAP_PROGRAM, version, v4.procedures.RPCBPROC_NULL, undefined)
        rpcbVersion = version
        return version
      } catch (error) {
        if (!(error instanceof RpcReplyError && error.failure === 'PROG_MISMATCH')) throw error
      }
    }
    rpcbVersion = 2
    return 2
  }
  const rpcb = (program: number, version: number, address: UniversalAddress) => ({
    r_prog: program,
    r_vers: version,
    r_netid: address.netid,
    r_addr: address.address,
    r_owner: String(process.getuid?.() ?? ''),
  })
  const calls: PortmapperCalls = {
    async set(program, version, address) {
      const speaking = await speaks()
      const what = `program ${program} version ${version} on ${address.netid} ${address.address}`
      let accepted: boolean
      if (speaking !== 2) {
        const procedures = speaking === 4 ? v4.procedures : v3.procedures
        await client.call(PMAP_PROGRAM, speaking, procedures.RPCBPROC_UNSET, rpcb(program, version, address))
        accepted = await client.call(PMAP_PROGRAM, speaking, procedures.RPCBPROC_SET, rpcb(program, version, address))
      } else {
        const prot = address.netid === 'tcp' ? IPPROTO_TCP : address.netid === 'udp' ? IPPROTO_UDP : undefined
        if (prot === undefined)
          throw new PortmapperError(`Cannot register ${what}: the portmapper speaks version 2 only, which has no ${address.netid}`)
        const port = parseUniversalAddress(address.address)?.port ?? 0
        await client.call(PMAP_PROGRAM, 2, v2.procedures.PMAPPROC_UNSET, { prog: program, vers: version, prot, port })
        accepted = await client.call(PMAP_PROGRAM, 2, v2.procedures.PMAPPROC_SET, { prog: program, vers: version, prot, port })
      }
      if (!accepted) throw new PortmapperError(`The portmapper at ${describe(target)} refused to register ${what} (SET answered false)`)
      return { program, version, netid: address.netid, address: address.address, through: speaking === 2 ? 2 : 4 }
    },
    async unset(entry) {
      const speaking = await speaks()
      if (speaking !== 2) {
        const procedures = speaking === 4 ? v4.procedures : v3.procedures
        await client.call(PMAP_PROGRAM, speaking, procedures.RPCBPROC_UNSET, rpcb(entry.program, entry.version, entry))
      } else {
        await client.call(PMAP_PROGRAM, 2, v2.procedures.PMAPPROC_UNSET, { prog: entry.program, vers: entry.version, prot: 0, port: 0 })
      }
    },
  }
  try {
    await work(calls)
  } catch (error) {
    if (error instanceof PortmapperError) throw error
    throw new PortmapperError(`The portmapper at ${describe(target)} failed: ${(error as Error).message}`, { cause: error })
  } finally {
    await client.close()
  }
}
