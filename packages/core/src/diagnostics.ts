/**
 * `node:diagnostics_channel` channels: how to observe servers and requests
 * without patching them (undici's approach). Publishing to a channel nobody
 * subscribes to costs almost nothing.
 *
 * | channel | message |
 * |---|---|
 * | `socketserver:server:listen` | `{ server }` once the server listens |
 * | `socketserver:server:close` | `{ server, dropped }`: `dropped` connections were accepted but never handed out |
 * | `socketserver:server:drop` | `{ server, error }`: a connection or datagram refused before any handler saw it: `OverflowError` (too many waiting), `WaitTimeoutError` (waited `maxWaitMs`), `DatagramTooLargeError` |
 * | `socketserver:server:wait` | `{ server, request, waitedMs, waiting }`: a request has waited `slowWaitMs` in the server's queue for a consumer (a free policy slot) and still waits; once per request; `waiting` is how many wait now. The first of each server also prints one line on stderr unless this channel has a subscriber then. A `maxWaitMs` refusal comes on `server:drop` (#16) |
 * | `socketserver:server:accept-error` | `{ server, error }`: accepting failed (a `DescriptorsExhaustedError` for EMFILE/ENFILE, which libuv hides and a probe finds); the server keeps listening; `serve()` passes it to `handleError` |
 * | `socketserver:request:start` | `{ request }` before the handler runs |
 * | `socketserver:request:end` | `{ request, error }` after the request closed; `error` is undefined on success |
 * | `socketserver:request:rejected` | `{ request }`: `verifyRequest` returned false |
 * | `socketserver:request:error` | `{ request, error }` each time an error reaches `handleError` |
 *
 * @example
 * ```ts
 * import diagnostics_channel from 'node:diagnostics_channel'
 * let errors = 0
 * diagnostics_channel.subscribe('socketserver:request:error', () => { errors++ })
 * ```
 *
 * @module
 */

import diagnosticsChannel from 'node:diagnostics_channel'

/** The channels this library publishes to, by short name. */
export const channels = {
  serverListen: diagnosticsChannel.channel('socketserver:server:listen'),
  serverClose: diagnosticsChannel.channel('socketserver:server:close'),
  serverDrop: diagnosticsChannel.channel('socketserver:server:drop'),
  serverWait: diagnosticsChannel.channel('socketserver:server:wait'),
  serverAcceptError: diagnosticsChannel.channel('socketserver:server:accept-error'),
  requestStart: diagnosticsChannel.channel('socketserver:request:start'),
  requestEnd: diagnosticsChannel.channel('socketserver:request:end'),
  requestRejected: diagnosticsChannel.channel('socketserver:request:rejected'),
  requestError: diagnosticsChannel.channel('socketserver:request:error'),
} as const
