/**
 * The portmapper's protocol (RFC 1833): program 100000, version 2 (the
 * port mapper, ports by protocol number) and versions 3 and 4 (rpcbind,
 * universal addresses by netid).
 *
 * @module
 */

import { defineProgram } from '../program/program.js'
import { xdr } from '../xdr/xdr-types.js'

/** The portmapper's program number, and its port on every host. */
export const PMAP_PROGRAM = 100_000
/** The portmapper's well-known port, for TCP and UDP. */
export const PMAP_PORT = 111
/** The protocol numbers of a version 2 mapping. */
export const IPPROTO_TCP = 6
export const IPPROTO_UDP = 17

/** A version 2 mapping: a program and version on a protocol at a port. */
export const Mapping = xdr.struct({ prog: xdr.unsigned, vers: xdr.unsigned, prot: xdr.unsigned, port: xdr.unsigned })

/** A version 3/4 registration: a program and version on a netid at a universal address, and who registered it. */
export const Rpcb = xdr.struct({
  r_prog: xdr.unsigned,
  r_vers: xdr.unsigned,
  r_netid: xdr.string(),
  r_addr: xdr.string(),
  r_owner: xdr.string(),
})

/** CALLIT's arguments (version 2). */
const CallArgs = xdr.struct({ prog: xdr.unsigned, vers: xdr.unsigned, proc: xdr.unsigned, args: xdr.varOpaque() })
/** CALLIT's result (version 2). */
const CallResult = xdr.struct({ port: xdr.unsigned, res: xdr.varOpaque() })
/** The remote call's arguments (versions 3 and 4). */
const RmtCallArgs = xdr.struct({ prog: xdr.unsigned, vers: xdr.unsigned, proc: xdr.unsigned, args: xdr.varOpaque() })
/** The remote call's result (versions 3 and 4). */
const RmtCallResult = xdr.struct({ addr: xdr.string(), results: xdr.varOpaque() })
/** A transport address in its native form. */
const Netbuf = xdr.struct({ maxlen: xdr.unsigned, buf: xdr.varOpaque() })
/** One address of GETADDRLIST. */
const RpcbEntry = xdr.struct({
  r_maddr: xdr.string(),
  r_nc_netid: xdr.string(),
  r_nc_semantics: xdr.unsigned,
  r_nc_protofmly: xdr.string(),
  r_nc_proto: xdr.string(),
})
/** The number of procedures whose calls GETSTAT counts (RPCBSTAT_HIGHPROC). */
export const RPCBSTAT_HIGHPROC = 13
/** GETSTAT's counts of GETADDR lookups by program. */
const AddrStat = xdr.struct({ prog: xdr.unsigned, vers: xdr.unsigned, success: xdr.int, failure: xdr.int, netid: xdr.string() })
/** GETSTAT's counts of remote calls by program. */
const RmtCallStat = xdr.struct({
  prog: xdr.unsigned,
  vers: xdr.unsigned,
  proc: xdr.unsigned,
  success: xdr.int,
  failure: xdr.int,
  indirect: xdr.int,
  netid: xdr.string(),
})
/** GETSTAT's counts for one version. */
export const RpcbStat = xdr.struct({
  info: xdr.array(xdr.int, RPCBSTAT_HIGHPROC),
  setinfo: xdr.int,
  unsetinfo: xdr.int,
  addrinfo: xdr.linkedList(AddrStat),
  rmtinfo: xdr.linkedList(RmtCallStat),
})

const procedures3 = {
  RPCBPROC_NULL: { number: 0, args: xdr.void, result: xdr.void },
  RPCBPROC_SET: { number: 1, args: Rpcb, result: xdr.bool },
  RPCBPROC_UNSET: { number: 2, args: Rpcb, result: xdr.bool },
  RPCBPROC_GETADDR: { number: 3, args: Rpcb, result: xdr.string() },
  RPCBPROC_DUMP: { number: 4, args: xdr.void, result: xdr.linkedList(Rpcb) },
  RPCBPROC_CALLIT: { number: 5, args: RmtCallArgs, result: RmtCallResult },
  RPCBPROC_GETTIME: { number: 6, args: xdr.void, result: xdr.unsigned },
  RPCBPROC_UADDR2TADDR: { number: 7, args: xdr.string(), result: Netbuf },
  RPCBPROC_TADDR2UADDR: { number: 8, args: Netbuf, result: xdr.string() },
} as const
const { RPCBPROC_CALLIT: _callit, ...common3 } = procedures3

/** The portmapper program: versions 2, 3 and 4, as RFC 1833 defines them. */
export const Portmapper = defineProgram({
  name: 'PMAP_PROG',
  number: PMAP_PROGRAM,
  versions: {
    PMAP_VERS: {
      number: 2,
      procedures: {
        PMAPPROC_NULL: { number: 0, args: xdr.void, result: xdr.void },
        PMAPPROC_SET: { number: 1, args: Mapping, result: xdr.bool },
        PMAPPROC_UNSET: { number: 2, args: Mapping, result: xdr.bool },
        PMAPPROC_GETPORT: { number: 3, args: Mapping, result: xdr.unsigned },
        PMAPPROC_DUMP: { number: 4, args: xdr.void, result: xdr.linkedList(Mapping) },
        PMAPPROC_CALLIT: { number: 5, args: CallArgs, result: CallResult },
      },
    },
    RPCBVERS: { number: 3, procedures: procedures3 },
    RPCBVERS4: {
      number: 4,
      procedures: {
        ...common3,
        RPCBPROC_BCAST: { number: 5, args: RmtCallArgs, result: RmtCallResult },
        RPCBPROC_GETVERSADDR: { number: 9, args: Rpcb, result: xdr.string() },
        RPCBPROC_INDIRECT: { number: 10, args: RmtCallArgs, result: RmtCallResult },
        RPCBPROC_GETADDRLIST: { number: 11, args: Rpcb, result: xdr.linkedList(RpcbEntry) },
        RPCBPROC_GETSTAT: { number: 12, args: xdr.void, result: xdr.array(RpcbStat, 3) },
      },
    },
  },
})
