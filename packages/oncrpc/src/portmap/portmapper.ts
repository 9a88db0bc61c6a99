/**
 * A portmapper (rpcbind) as an RPC program: versions 2, 3 and 4 over one
 * table of registrations, as Debian's rpcbind answers them.
 *
 * @module
 */

import { ipv6Bytes, ipv6Text, type Server, type StreamRequest } from '@socketserver/core'
import { implement, type RpcCall, type RpcProgram } from '../program/implement.js'
import type { XdrValue } from '../xdr/xdr-types.js'
import { IPPROTO_TCP, IPPROTO_UDP, PMAP_PROGRAM, Portmapper, RPCBSTAT_HIGHPROC, type RpcbStat } from './portmap-protocol.js'
import { formatUniversalAddress, isLocalCaller, netidOf, parseUniversalAddress, universalAddressOf } from './universal-address.js'

/** One registration: a program's version reachable on a netid at a universal address. */
export interface PortmapEntry {
  readonly program: number
  readonly version: number
  readonly netid: string
  readonly address: string
  /** Who registered it: `superuser`, a uid, or `unknown`. */
  readonly owner: string
}

/** Options of {@link portmapper}. */
export interface PortmapperOptions {
  /**
   * Let callers that are not on this host SET and UNSET (rpcbind's `-i`,
   * "insecure"). Default false: only Unix socket and loopback callers may.
   */
  readonly allowRemoteSet?: boolean
}

/** A portmapper: its program for `rpcHandler()`, and its table. */
export interface PortmapperService {
  /** The program (100000, versions 2, 3 and 4). */
  readonly program: RpcProgram
  /** The registrations, in the order they were made. */
  entries(): readonly PortmapEntry[]
  /**
   * Registers the portmapper itself on the servers it listens on (rpcbind
   * does: `rpcinfo -p` lists program 100000), versions 3 and 4 on every
   * netid, version 2 on `tcp` and `udp`.
   */
  registerSelf(servers: readonly Pick<Server, 'address'>[]): void
}

const NETID_OF_PROTOCOL: Readonly<Record<number, string>> = { [IPPROTO_TCP]: 'tcp', [IPPROTO_UDP]: 'udp' }
/**
 * Who registers: rpcbind reads it from the Unix socket's peer
 * credentials, which Node does not expose, and says "unknown" on other
 * transports. An AUTH_SYS uid is whatever the caller writes, so it is not
 * believed: every caller is "unknown", and only the portmapper's own
 * registrations are "superuser" (which callers cannot take back).
 */
const CALLER = 'unknown'
const CALLS_REFUSED = 'remote calls are not served (as rpcbind without --enable-rmtcalls)'
type Stat = XdrValue<typeof RpcbStat>

/**
 * Makes a portmapper: PMAPPROC_SET, UNSET, GETPORT and DUMP (version 2);
 * RPCBPROC_SET, UNSET, GETADDR, DUMP, GETTIME, UADDR2TADDR, TADDR2UADDR
 * (versions 3 and 4), GETVERSADDR, GETADDRLIST and GETSTAT (version 4).
 * Remote calls (CALLIT, BCAST, INDIRECT) are refused with PROC_UNAVAIL, as
 * Debian's rpcbind, built without them, refuses them.
 *
 * As rpcbind: a registration is one program, version and netid (a second
 * SET of the same is refused, false); a version 2 SET is the `tcp` or
 * `udp` netid at `0.0.0.0`; a version 2 UNSET removes the program's
 * version on every netid, a version 3/4 UNSET on its netid (or every one
 * when empty); GETADDR answers for the netid the call came in on, with a
 * registration's wildcard host (`0.0.0.0`, `::`) replaced by the address
 * the caller reached; GETPORT and GETADDR fall back to another version of the
 * program when the one asked for is not registered (GETVERSADDR does not).
 * Only callers on this host may SET and UNSET unless `allowRemoteSet`.
 *
 * @param options - `allowRemoteSet`.
 * @returns The program and its table.
 * @example
 * ```ts
 * const pmap = portmapper()
 * const tcp = await TCPServer.listen({ host: '127.0.0.1', port: 111 })
 * const udp = await UDPServer.bind({ host: '127.0.0.1', port: 111 })
 * pmap.registerSelf([tcp, udp])
 * const handler = rpcHandler(pmap.program)
 * await Promise.all([serve(tcp, handler, { signal }), serve(udp, handler, { signal })])
 * ```
 */
export function portmapper(options: PortmapperOptions = {}): PortmapperService {
  const table: PortmapEntry[] = []
  const stats: Stat[] = [2, 3, 4].map(() => ({
    info: new Array(RPCBSTAT_HIGHPROC).fill(0),
    setinfo: 0,
    unsetinfo: 0,
    addrinfo: [],
    rmtinfo: [],
  }))
  const count = (call: RpcCall): void => {
    const stat = stats[call.version - 2]
    if (stat !== undefined && call.procedure < RPCBSTAT_HIGHPROC) stat.info[call.procedure] = (stat.info[call.procedure] ?? 0) + 1
  }
  const mayChange = (call: RpcCall): boolean => options.allowRemoteSet === true || isLocalCaller(call.clientAddress)

  const set = (entry: PortmapEntry, call: RpcCall): boolean => {
    count(call)
    if (!mayChange(call)) return false
    if (table.some((e) => e.program === entry.program && e.version === entry.version && e.netid === entry.netid)) return false
    table.push(entry)
    ;(stats[call.version - 2] as Stat).setinfo++
    return true
  }
  /** Removes the program's version on `netids` (all when undefined); as rpcbind's map_unset, only the caller's own. */
  const unset = (program: number, version: number, netids: readonly string[] | undefined, call: RpcCall): boolean => {
    count(call)
    if (!mayChange(call)) return false
    const matches = (e: PortmapEntry) =>
      e.program === program && e.version === version && (netids === undefined || netids.includes(e.netid))
    // Someone else's registration in the way (the portmapper's own, the superuser's): nothing is removed, as rpcbind refuses the whole UNSET.
    if (table.some((e) => matches(e) && e.owner !== CALLER)) return false
    let removed = false
    for (let i = table.length - 1; i >= 0; i--) {
      const e = table[i] as PortmapEntry
      if (matches(e)) {
        table.splice(i, 1)
        removed = true
      }
    }
    if (removed) (stats[call.version - 2] as Stat).unsetinfo++
    return removed
  }
  /** rpcbind's find_service: the exact version, else (when allowed) the last registered version of the program on that netid. */
  const find = (program: number, version: number, netid: string, anyVersion: boolean): PortmapEntry | undefined => {
    const onNetid = table.filter((e) => e.program === program && e.netid === netid)
    return onNetid.find((e) => e.version === version) ?? (anyVersion ? onNetid.at(-1) : undefined)
  }
  const noteLookup = (call: RpcCall, program: number, version: number, netid: string, found: boolean): void => {
    const stat = stats[call.version - 2] as Stat
    let line = stat.addrinfo.find((a) => a.prog === program && a.vers === version && a.netid === netid)
    if (line === undefined) {
      line = { prog: program, vers: version, success: 0, failure: 0, netid }
      stat.addrinfo.push(line)
    }
    if (found) line.success++
    else line.failure++
  }
  const getAddress = (program: number, version: number, call: RpcCall, anyVersion: boolean): string => {
    count(call)
    const netid = netidOf(call.clientAddress)
    const entry = find(program, version, netid, anyVersion)
    noteLookup(call, program, version, netid, entry !== undefined)
    return entry === undefined ? '' : mergeAddress(entry.address, call)
  }
  const refuseRemoteCall = (): never => {
    throw new RemoteCallsRefused()
  }
  const v3 = () => ({
    RPCBPROC_NULL: (_: undefined, call: RpcCall) => count(call),
    RPCBPROC_SET: (r: Rpcb, call: RpcCall) =>
      set({ program: r.r_prog, version: r.r_vers, netid: r.r_netid, address: r.r_addr, owner: CALLER }, call),
    RPCBPROC_UNSET: (r: Rpcb, call: RpcCall) => unset(r.r_prog, r.r_vers, r.r_netid === '' ? undefined : [r.r_netid], call),
    RPCBPROC_GETADDR: (r: Rpcb, call: RpcCall) => getAddress(r.r_prog, r.r_vers, call, true),
    RPCBPROC_DUMP: (_: undefined, call: RpcCall) => {
      count(call)
      return table.map((e) => ({ r_prog: e.program, r_vers: e.version, r_netid: e.netid, r_addr: e.address, r_owner: e.owner }))
    },
    RPCBPROC_GETTIME: (_: undefined, call: RpcCall) => {
      count(call)
      return Math.floor(Date.now() / 1000) >>> 0
    },
    RPCBPROC_UADDR2TADDR: (uaddr: string, call: RpcCall) => {
      count(call)
      return { maxlen: 0, buf: socketAddressBytes(uaddr) }
    },
    RPCBPROC_TADDR2UADDR: (netbuf: { buf: Uint8Array }, call: RpcCall) => {
      count(call)
      return universalAddressOfBytes(netbuf.buf)
    },
  })
  const program = implement(Portmapper, {
    PMAP_VERS: {
      PMAPPROC_NULL: (_, call) => count(call),
      PMAPPROC_SET: (m, call) => {
        const netid = NETID_OF_PROTOCOL[m.prot]
        if (netid === undefined) {
          count(call)
          return false
        }
        return set({ program: m.prog, version: m.vers, netid, address: formatUniversalAddress('0.0.0.0', m.port), owner: CALLER }, call)
      },
      // Version 2 knows only tcp and udp: its UNSET leaves the other netids alone, as rpcbind's does.
      PMAPPROC_UNSET: (m, call) => unset(m.prog, m.vers, ['tcp', 'udp'], call),
      PMAPPROC_GETPORT: (m, call) => {
        count(call)
        const netid = NETID_OF_PROTOCOL[m.prot]
        const entry = netid === undefined ? undefined : find(m.prog, m.vers, netid, true)
        noteLookup(call, m.prog, m.vers, netid ?? String(m.prot), entry !== undefined)
        return entry === undefined ? 0 : (parseUniversalAddress(entry.address)?.port ?? 0)
      },
      PMAPPROC_DUMP: (_, call) => {
        count(call)
        return table.flatMap((e) => {
          const prot = e.netid === 'tcp' ? IPPROTO_TCP : e.netid === 'udp' ? IPPROTO_UDP : undefined
          const port = parseUniversalAddress(e.address)?.port
          return prot === undefined || port === undefined ? [] : [{ prog: e.program, vers: e.version, prot, port }]
        })
      },
      PMAPPROC_CALLIT: refuseRemoteCall,
    },
    RPCBVERS: { ...v3(), RPCBPROC_CALLIT: refuseRemoteCall },
    RPCBVERS4: {
      ...v3(),
      RPCBPROC_BCAST: refuseRemoteCall,
      RPCBPROC_INDIRECT: refuseRemoteCall,
      RPCBPROC_GETVERSADDR: (r, call) => getAddress(r.r_prog, r.r_vers, call, false),
      RPCBPROC_GETADDRLIST: (r, call) => {
        count(call)
        return table
          .filter((e) => e.program === r.r_prog && e.version === r.r_vers)
          .map((e) => ({
            r_maddr: mergeAddress(e.address, call),
            r_nc_netid: e.netid,
            r_nc_semantics: e.netid.startsWith('udp') ? 1 : 3,
            r_nc_protofmly: e.netid === 'local' ? 'loopback' : e.netid.endsWith('6') ? 'inet6' : 'inet',
            r_nc_proto: e.netid === 'local' ? '-' : e.netid.replace('6', ''),
          }))
      },
      RPCBPROC_GETSTAT: (_, call) => {
        count(call)
        return stats
      },
    },
  })
  // Procedures that refuse are PROC_UNAVAIL: a program without them answers so.
  const served = withoutRemoteCalls(program)
  return {
    program: served,
    entries: () => [...table],
    registerSelf(servers) {
      for (const server of servers) {
        const universal = universalAddressOf(server.address)
        if (universal === undefined) continue
        const versions = universal.netid === 'tcp' || universal.netid === 'udp' ? [4, 3, 2] : [4, 3]
        for (const version of versions) {
          if (!table.some((e) => e.program === PMAP_PROGRAM && e.version === version && e.netid === universal.netid)) {
            table.push({ program: PMAP_PROGRAM, version, netid: universal.netid, address: universal.address, owner: 'superuser' })
          }
        }
      }
    },
  }
}

type Rpcb = { r_prog: number; r_vers: number; r_netid: string; r_addr: string; r_owner: string }

class RemoteCallsRefused extends Error {
  constructor() {
    super(CALLS_REFUSED)
  }
}

/** The program without its remote-call procedures (5 and 10), so that calls to them get PROC_UNAVAIL. */
function withoutRemoteCalls(program: RpcProgram): RpcProgram {
  const versions = new Map(
    [...program.versions].map(([number, version]) => {
      const procedures = new Map(version.procedures)
      procedures.delete(5)
      procedures.delete(10)
      return [number, { number, procedures }]
    }),
  )
  return { ...program, versions }
}

/** A registered address with a wildcard host answered with the host the caller reached (of the same family). */
function mergeAddress(address: string, call: RpcCall): string {
  const parsed = parseUniversalAddress(address)
  if (parsed === undefined || (parsed.host !== '0.0.0.0' && parsed.host !== '::')) return address
  const request = call.request
  let local = request.kind === 'stream' ? (request as StreamRequest).socket.localAddress : serverHost(request.server.address)
  // A datagram's own destination is not known to Node (no IP_PKTINFO): a caller on loopback reached loopback.
  if ((local === '0.0.0.0' || local === '::') && isLocalCaller(call.clientAddress) && 'host' in call.clientAddress) {
    local = call.clientAddress.host.includes(':') && !call.clientAddress.host.startsWith('::ffff:') ? '::1' : '127.0.0.1'
  }
  if (local === undefined) return address
  if (parsed.host === '0.0.0.0' && local.startsWith('::ffff:')) local = local.slice(7)
  const sameFamily = parsed.host === '::' ? local.includes(':') : !local.includes(':')
  if (!sameFamily || local === '0.0.0.0' || local === '::') return address
  return formatUniversalAddress(local, parsed.port)
}

function serverHost(address: Server['address']): string | undefined {
  return 'host' in address ? address.host : undefined
}

/** A universal address as a `struct sockaddr` (Linux's layout: the family in host order, little-endian here). */
function socketAddressBytes(uaddr: string): Uint8Array {
  const parsed = parseUniversalAddress(uaddr)
  if (parsed === undefined) return new Uint8Array(0)
  if (!parsed.host.includes(':')) {
    const bytes = Buffer.alloc(16)
    bytes.writeUInt16LE(2, 0)
    bytes.writeUInt16BE(parsed.port, 2)
    parsed.host.split('.').forEach((part, i) => {
      bytes[4 + i] = Number(part)
    })
    return bytes
  }
  const bytes = Buffer.alloc(28)
  bytes.writeUInt16LE(10, 0)
  bytes.writeUInt16BE(parsed.port, 2)
  ;(ipv6Bytes(parsed.host) ?? Buffer.alloc(16)).copy(bytes, 8)
  return bytes
}

function universalAddressOfBytes(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes)
  if (buffer.length >= 8 && buffer.readUInt16LE(0) === 2) {
    const port = buffer.readUInt16BE(2)
    return formatUniversalAddress(`${buffer[4]}.${buffer[5]}.${buffer[6]}.${buffer[7]}`, port)
  }
  if (buffer.length >= 24 && buffer.readUInt16LE(0) === 10) {
    const port = buffer.readUInt16BE(2)
    return formatUniversalAddress(ipv6Text(buffer.subarray(8, 24)), port)
  }
  return ''
}
