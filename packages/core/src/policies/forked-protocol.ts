/**
 * The messages between the `forked()` policy and its child processes, over
 * the IPC channel (advanced serialization, so `Uint8Array`s cross intact).
 *
 * @module
 * @internal
 */

import type { SocketAddress, SourceAddress } from '../address.js'

/** An error as it crosses the channel. */
export interface SerializedError {
  name: string
  message: string
  stack?: string
  code?: string
}

/**
 * What a child's request failure was, so that the parent reports it in the
 * same shape as a request served in the parent: the handler threw (`error`
 * is what it threw), the client left (`error` is the cause), or a reply
 * was lost (`error` is the `ReplyError`), or an idle timeout (a handler's
 * `timeoutMs`) ended it (`error` is the `RequestTimeoutError`; `timeoutMs`
 * its limit).
 */
export type FailureKind = 'handler' | 'disconnect' | 'reply' | 'timeout'

/**
 * Parent → child. A `stream` message carries the socket as its handle,
 * the bytes the parent's socket had already read and not handed out
 * (`unread`: a wrapper that read a PROXY header put the rest back), and
 * the request's facts (`facts`: what wrappers added, see `factsOf`).
 */
export type ToChild =
  | {
      type: 'stream'
      id: number
      clientAddress: SocketAddress
      serverAddress: SocketAddress
      unread?: Uint8Array
      facts?: Record<string, unknown>
    }
  | { type: 'datagram'; id: number; data: Uint8Array; clientAddress: SocketAddress; serverAddress: SocketAddress }
  | { type: 'job'; id: number; job: RelayedJob; serverAddress: SourceAddress }
  | { type: 'reply-result'; id: number; seq: number; error?: SerializedError }
  | { type: 'abort'; id: number }
  | { type: 'stop'; id: number }

/** Child → parent. */
export type FromChild =
  | { type: 'ready' }
  | { type: 'load-error'; message: string }
  | { type: 'reply'; id: number; seq: number; data: Uint8Array }
  | { type: 'done'; id: number; error?: SerializedError; failure?: FailureKind; timeoutMs?: number; outcome?: RelayedOutcome }

/** What a child needs of a job: the parent keeps the job and records its outcome. */
export interface RelayedJob {
  id: string
  data: unknown
  attempt: number
  maxAttempts: number
}

/** A job's outcome as the child recorded it, for the parent's job. */
export type RelayedOutcome =
  | { state: 'done'; result: unknown }
  | { state: 'failed'; error: SerializedError }
  | { state: 'given-back'; delayMs: number }

/** The environment variable naming the handler module for a child. */
export const MODULE_ENV = 'SOCKETSERVER_FORKED_MODULE'

/** Flattens an error for the channel. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return { name: error.name, message: error.message, stack: error.stack, ...(typeof code === 'string' ? { code } : {}) }
  }
  return { name: 'Error', message: String(error) }
}

/** Rebuilds an error sent over the channel. */
export function deserializeError(serialized: SerializedError): Error {
  const error = new Error(serialized.message)
  error.name = serialized.name
  if (serialized.stack !== undefined) error.stack = serialized.stack
  if (serialized.code !== undefined) Object.assign(error, { code: serialized.code })
  return error
}
