/**
 * Servers that are async iterables of requests, `serve()` with every hook of
 * Python's socketserver, concurrency policies as it-pipe stages, and typed
 * errors.
 *
 * @example
 * ```ts
 * import { TCPServer, serve, pooled } from '@socketserver/core'
 *
 * const server = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
 * const controller = new AbortController()
 * await serve(server, (request) => request.socket.pipe(request.socket), {
 *   signal: controller.signal,
 *   policy: pooled({ concurrency: 100 }),
 * })
 * ```
 *
 * @packageDocumentation
 */

export {
  type Address,
  formatAddress,
  type HostPort,
  type InetAddress,
  inetAddress,
  parseHostPort,
  type SocketAddress,
  type SourceAddress,
  type Transport,
  type UnixAddress,
} from './address.js'
export { channels } from './diagnostics.js'
export {
  BindError,
  ClientDisconnectedError,
  DatagramTooLargeError,
  DescriptorsExhaustedError,
  DrainTimeoutError,
  HandlerError,
  HookError,
  InvalidAddressError,
  InvalidOptionError,
  OutcomeNotRecordedError,
  OverflowError,
  ReadPendingError,
  ReplyError,
  RequestRefusedError,
  RequestTimeoutError,
  ServerClosedError,
  ServerNotReadyError,
  ServerStoppingError,
  SocketActivationError,
  SocketPathInUseError,
  SocketPathNotSocketError,
  SocketPathTooLongError,
  SocketServerError,
  type SocketServerErrorOptions,
  WaitTimeoutError,
  WorkerCrashedError,
  WorkerStartError,
} from './errors.js'
export { handleRequest } from './handle-request.js'
export { ipv6Bytes, ipv6Text } from './ipv6.js'
export { Job, type JobInit, type RecordOutcome } from './jobs/job.js'
export { type ClaimedJob, DEFAULT_CLAIM_BATCH, JobSource, type JobSourceOptions, type JobSourceStats } from './jobs/job-source.js'
export {
  DEFAULT_CHILD_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CHILDREN,
  type ForkedOptions,
  type ForkedPolicy,
  forked,
} from './policies/forked.js'
export { DEFAULT_CONCURRENCY, type PooledOptions, pooled } from './policies/pooled.js'
export { sequential } from './policies/sequential.js'
export { defaultHandleError, isHandlerClass, type Outcome } from './request-runner.js'
export { serve } from './serve.js'
export {
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_POLL_INTERVAL_MS,
  type HandleRequestOptions,
  type RequestHooks,
  type ServeOptions,
} from './serve-options.js'
export { AcceptQueue } from './servers/accept-queue.js'
export {
  DatagramServer,
  type DatagramServerOptions,
  type DatagramServerStats,
  DEFAULT_MAX_PACKET_SIZE,
  DEFAULT_MAX_PENDING_DATAGRAMS,
} from './servers/datagram-server.js'
export type { SocketKind } from './servers/inherited-socket.js'
export { DEFAULT_SLOW_WAIT_MS, QueuedServer, type QueuedServerOptions, type ServerStats } from './servers/queued-server.js'
export { requestFacts } from './servers/request-facts.js'
export { bindSharedSocket, type SharedSocket, type SharedSocketAddress, sharedSocketFromFd } from './servers/shared-socket.js'
export { MAX_SOCKET_PATH_BYTES } from './servers/socket-path.js'
export type { PeerAddress } from './servers/stream-connection.js'
export { streamRequest } from './servers/stream-request.js'
export {
  DEFAULT_BACKLOG,
  DEFAULT_MAX_PENDING_CONNECTIONS,
  StreamServer,
  type StreamServerOptions,
} from './servers/stream-server.js'
export { DEFAULT_HOST, DEFAULT_NO_DELAY, type InheritedTCPServerOptions, TCPServer, type TCPServerOptions } from './servers/tcp-server.js'
export { type InheritedUDPServerOptions, UDPServer, type UDPServerOptions } from './servers/udp-server.js'
export { UnixDatagramServer, type UnixDatagramServerOptions } from './servers/unix-datagram-server.js'
export { type InheritedUnixStreamServerOptions, UnixStreamServer, type UnixStreamServerOptions } from './servers/unix-stream-server.js'
export { WrappingServer } from './servers/wrapping-server.js'
export {
  type InheritedServerOptions,
  LISTEN_FDS_START,
  type ListenFd,
  type ListenFdsOptions,
  listenFds,
  notifyServiceManager,
  serverFromFd,
} from './socket-activation.js'
export type {
  AbortOptions,
  BaseRequest,
  ConnectionSource,
  DatagramRequest,
  DeliverChunk,
  Handler,
  HandlerEnding,
  JobOutcome,
  JobRequest,
  Outcomes,
  Policy,
  Request,
  RequestHandlerClass,
  RequestHandlerFunction,
  RequestHandlerInstance,
  RequestIterator,
  RunRequest,
  Server,
  ServerAddress,
  ServerObserver,
  SocketRequest,
  StreamRequest,
} from './types.js'
