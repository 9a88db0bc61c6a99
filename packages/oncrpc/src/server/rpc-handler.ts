/**
 * The handler that serves RPC programs on any of our servers: record-marked
 * calls on stream connections (TCP, Unix stream), one call per datagram
 * (UDP, Unix datagram).
 *
 * @module
 */

import { type DatagramRequest, formatAddress, InvalidOptionError, type SocketRequest, type StreamRequest } from '@socketserver/core'
import type { RpcProgram } from '../program/implement.js'
import { DEFAULT_MAX_RECORD_SIZE, RecordDecoder } from '../record/record-decoder.js'
import type { CallHeader } from '../rpc/messages.js'
import { Dispatcher, type RpcErrorReporter } from './dispatcher.js'
import { DuplicateCache, type DuplicateCacheOptions } from './duplicate-cache.js'
import { serveStreamCalls } from './stream-calls.js'

/** Default {@link RpcHandlerOptions.maxCallsInFlight}: 64 calls running at once per connection. */
export const DEFAULT_MAX_CALLS_IN_FLIGHT = 64

/** Options of {@link rpcHandler}. */
export interface RpcHandlerOptions {
  /** The most bytes of one record (stream connections). Default 16 MiB. */
  readonly maxRecordSize?: number
  /**
   * The most calls of one connection running at once: past it, the
   * connection is not read until one finishes (so a client that pipelines
   * cannot make the server hold any number). Default {@link DEFAULT_MAX_CALLS_IN_FLIGHT}.
   */
  readonly maxCallsInFlight?: number
  /** The duplicate request cache for datagrams, or `false` for none. Default on, with its default bounds. */
  readonly duplicateCache?: DuplicateCacheOptions | false
  /**
   * Told of every call that got SYSTEM_ERR (a procedure that threw, a
   * result that does not encode) and of every message dropped as not a
   * call. Default: one line on stderr each. A reporter that throws ends
   * the connection.
   */
  readonly onError?: (error: Error, call: CallHeader | undefined, request: SocketRequest) => void
}

/** A handler for `serve()` that answers RPC calls on stream and datagram requests alike. */
export type RpcRequestHandler = ((request: SocketRequest) => Promise<void>) & {
  /** The duplicate request cache of its datagrams, if it has one. */
  readonly duplicateCache: DuplicateCache | undefined
}

const defaultReporter: RpcErrorReporter = (error, call, request) => {
  const what = call === undefined ? '' : ` (program ${call.program} version ${call.version} procedure ${call.procedure}, xid ${call.xid})`
  console.error(`oncrpc: ${formatAddress(request.clientAddress)}${what}: ${error.message}`)
}

/**
 * Makes a handler that serves RPC programs. On a stream connection (TCP,
 * Unix stream) it reads record-marked calls as they arrive and runs them
 * concurrently, up to `maxCallsInFlight`, writing each reply when its call
 * finishes (replies written in one turn leave in one system call); the
 * connection ends when the client ends it, or when serving stops between
 * records. On a datagram (UDP, Unix datagram) it answers the one call,
 * through the duplicate request cache. Procedure 0 of every version is
 * answered.
 *
 * Replies: SUCCESS with the result; PROG_UNAVAIL, PROG_MISMATCH (with the
 * lowest and highest versions served), PROC_UNAVAIL, GARBAGE_ARGS
 * (arguments that do not decode); SYSTEM_ERR when the procedure throws or
 * its result does not encode (reported to `onError`); denied with
 * RPC_MISMATCH for an RPC version other than 2, AUTH_ERROR for a malformed
 * AUTH_SYS credential (AUTH_BADCRED), a flavour other than AUTH_NONE and
 * AUTH_SYS (AUTH_REJECTEDCRED), or an `RpcAuthError` thrown by the
 * procedure. Bytes that are not a call get no reply (there is no xid to
 * answer), and are reported.
 *
 * Works with every policy: under `pooled()` each connection and datagram
 * runs in a slot; under `forked()` in a child (export the handler from
 * the child's module), where each child has a cache of its own.
 *
 * @param programs - The programs, from `implement()`.
 * @param options - Limits, the cache, the error reporter.
 * @returns The handler.
 * @throws InvalidOptionError for a bad option, or two programs that serve
 *   the same program and version.
 * @example
 * ```ts
 * const handler = rpcHandler(implement(KeyValue, { KV_V1: { GET: (key) => store.get(key), PUT: ... } }))
 * await Promise.all([serve(tcp, handler, { signal }), serve(udp, handler, { signal })])
 * ```
 */
export function rpcHandler(programs: RpcProgram | readonly RpcProgram[], options: RpcHandlerOptions = {}): RpcRequestHandler {
  const list = Array.isArray(programs) ? programs : [programs as RpcProgram]
  if (list.length === 0) throw new InvalidOptionError('programs', 'Cannot make an RPC handler: no program')
  const limits = {
    maxRecordSize: options.maxRecordSize ?? DEFAULT_MAX_RECORD_SIZE,
    maxCallsInFlight: options.maxCallsInFlight ?? DEFAULT_MAX_CALLS_IN_FLIGHT,
  }
  new RecordDecoder(limits.maxRecordSize) // checks maxRecordSize now, as each connection's decoder will
  if (!Number.isInteger(limits.maxCallsInFlight) || limits.maxCallsInFlight < 1) {
    throw new InvalidOptionError(
      'maxCallsInFlight',
      `Cannot use maxCallsInFlight ${String(limits.maxCallsInFlight)}: expected a whole number of at least 1`,
    )
  }
  const dispatcher = new Dispatcher(list, options.onError ?? defaultReporter)
  const cache = options.duplicateCache === false ? undefined : new DuplicateCache(options.duplicateCache)
  const handler = (request: SocketRequest): Promise<void> =>
    request.kind === 'stream' ? serveStreamCalls(request as StreamRequest, dispatcher, limits) : serveDatagram(request, dispatcher, cache)
  return Object.assign(handler, { duplicateCache: cache })
}

function serveDatagram(request: DatagramRequest, dispatcher: Dispatcher, cache: DuplicateCache | undefined): Promise<void> {
  if (cache === undefined) return reply(request, dispatcher.dispatch(request.data, request, false))
  const sender = request.clientAddress
  const message = request.data
  const found = cache.begin(sender, message)
  if (found.kind === 'answered') return request.reply(found.reply)
  if (found.kind === 'running') return Promise.resolve()
  let result: ReturnType<Dispatcher['dispatch']>
  try {
    result = dispatcher.dispatch(message, request, false)
  } catch (error) {
    cache.end(sender, message, undefined)
    return Promise.reject(error)
  }
  if (result === undefined || result instanceof Uint8Array) {
    cache.end(sender, message, result)
    return reply(request, result)
  }
  return result.then(
    (bytes) => {
      cache.end(sender, message, bytes)
      return request.reply(bytes)
    },
    (error: unknown) => {
      cache.end(sender, message, undefined)
      throw error
    },
  )
}

function reply(request: DatagramRequest, result: ReturnType<Dispatcher['dispatch']>): Promise<void> {
  if (result === undefined) return Promise.resolve()
  if (result instanceof Uint8Array) return request.reply(result)
  return result.then((bytes) => request.reply(bytes))
}
