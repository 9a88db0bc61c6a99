/**
 * `@socketserver/oncrpc`: ONC RPC (Sun RPC, RFC 5531) for socketserver
 * servers. XDR (RFC 4506) types as values, with the value types inferred;
 * programs defined as data and implemented as functions; a handler that
 * serves them over TCP and Unix stream (record marking, calls in flight
 * answered as they finish) and UDP and Unix datagram (a duplicate request
 * cache), with every `serve()` hook and policy; and a client.
 *
 * @example
 * ```ts
 * import { serve, TCPServer, UDPServer } from '@socketserver/core'
 * import { defineProgram, implement, rpcHandler, xdr } from '@socketserver/oncrpc'
 *
 * const Echo = defineProgram({
 *   name: 'ECHO_PROG', number: 0x2000_0001,
 *   versions: { ECHO_V1: { number: 1, procedures: { ECHO: { number: 1, args: xdr.string(1024), result: xdr.string(1024) } } } },
 * })
 * const handler = rpcHandler(implement(Echo, { ECHO_V1: { ECHO: (text) => text } }))
 * const tcp = await TCPServer.listen({ port: 0 })
 * const udp = await UDPServer.listen({ port: tcp.address.port })
 * const controller = new AbortController()
 * await Promise.all([serve(tcp, handler, { signal: controller.signal }), serve(udp, handler, { signal: controller.signal })])
 * ```
 *
 * @packageDocumentation
 */

export { type ProgramClient, programClient } from './client/program-client.js'
export { type CallOptions, DEFAULT_CALL_TIMEOUT_MS, DEFAULT_RETRANSMIT_MS, RpcClient, type RpcClientOptions } from './client/rpc-client.js'
export { IPPROTO_TCP, IPPROTO_UDP, Mapping, PMAP_PORT, PMAP_PROGRAM, Portmapper, Rpcb } from './portmap/portmap-protocol.js'
export { type PortmapEntry, type PortmapperOptions, type PortmapperService, portmapper } from './portmap/portmapper.js'
export {
  type PortmapperAddress,
  type Registered,
  type RegisterOptions,
  type Registration,
  RPCBIND_SOCKET,
  registerWithPortmapper,
} from './portmap/registration.js'
export { parseUniversalAddress, type UniversalAddress, universalAddressOf } from './portmap/universal-address.js'
export {
  implement,
  type ProcedureImplementation,
  type ProcedureNumber,
  type ProgramImplementation,
  type Returned,
  type RpcCall,
  type RpcProgram,
  type ServedProcedure,
  type ServedVersion,
  type VersionImplementation,
} from './program/implement.js'
export { defineProgram, type ProcedureDefinition, type ProgramDefinition, type VersionDefinition } from './program/program.js'
export { DEFAULT_MAX_RECORD_SIZE, markRecord, RecordDecoder } from './record/record-decoder.js'
export {
  AUTH_NONE,
  type Credential,
  type NoCredential,
  type OpaqueAuth,
  type OtherCredential,
  type SysCredential,
  sysCredential,
} from './rpc/credentials.js'
export type { CallHeader } from './rpc/messages.js'
export {
  AcceptStatus,
  type AcceptStatusName,
  AuthFlavor,
  AuthStatus,
  type AuthStatusName,
  RejectStatus,
  type RejectStatusName,
  RPC_VERSION,
} from './rpc/rpc-constants.js'
export {
  IncompleteRecordError,
  MalformedCallError,
  PortmapperError,
  RecordTooLargeError,
  RpcAuthError,
  RpcConnectionClosedError,
  type RpcFailure,
  RpcReplyError,
  RpcTimeoutError,
} from './rpc-errors.js'
export { type CompileOptions, compileRpcl, compileRpclFile } from './rpcgen/compile.js'
export { RpclError } from './rpcgen/rpcl-error.js'
export {
  type CacheLookup,
  DEFAULT_DUPLICATE_CACHE_BYTES,
  DEFAULT_DUPLICATE_CACHE_ENTRIES,
  DEFAULT_DUPLICATE_CACHE_TTL_MS,
  DuplicateCache,
  type DuplicateCacheOptions,
} from './server/duplicate-cache.js'
export { DEFAULT_MAX_CALLS_IN_FLIGHT, type RpcHandlerOptions, type RpcRequestHandler, rpcHandler } from './server/rpc-handler.js'
export { XdrError } from './xdr/xdr-error.js'
export { XdrReader } from './xdr/xdr-reader.js'
export { decode, encode, type XdrType, type XdrUnionValue, type XdrValue, xdr } from './xdr/xdr-types.js'
export { XdrWriter } from './xdr/xdr-writer.js'
