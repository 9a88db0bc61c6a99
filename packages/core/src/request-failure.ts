/**
 * What a request that failed reports, in one shape: the abort reason, the
 * library's own error, the client leaving (`ClientDisconnectedError`), or
 * what the handler threw wrapped in `HandlerError`. Shared by the request
 * runner and `verifyRequest`.
 *
 * @module
 * @internal
 */

import type { Socket } from 'node:net'
import { ClientDisconnectedError, DrainTimeoutError, HandlerError, ReplyError, RequestTimeoutError, WorkerCrashedError } from './errors.js'
import type { Request } from './types.js'

/**
 * What a failed request reports, in one shape: always one of our errors,
 * with a `code`. The abort reason when the request was aborted; the
 * library's own errors about this request as they are (a timeout the
 * handler's read rejected with, a lost reply, a forked child's crash); a
 * client that left as `ClientDisconnectedError`; anything else the handler
 * threw wrapped in `HandlerError`.
 */
export function failureOf(request: Request, thrown: unknown, aborted: boolean, reason: unknown): unknown {
  if (aborted) return reason
  if (saysWhatHappened(thrown)) return thrown
  // The handler left because serving stops, as asked: by the stop notice
  // (`stopping.throwIfAborted()`, a wait given `stopping` as its signal),
  // or from a read between messages that the stop ended.
  const stopping = (request as Partial<Request>).stopping
  if (stopping?.aborted === true && (isStopNotice(thrown, stopping.reason) || endedBetweenMessages(thrown))) return undefined
  return clientLeft(request, thrown) ?? (thrown instanceof ReplyError ? thrown : new HandlerError(request.clientAddress, thrown))
}

/**
 * A reply lost at the close: the client's disconnect when the client
 * reset (a client that resets often reads as a clean end first, and the
 * reply then fails); else the `ReplyError` itself (a write after the end,
 * on a destroyed socket: the handler's mistake).
 */
export function closeFailureOf(request: Request, closeError: unknown): unknown {
  return clientLeft(request, closeError) ?? closeError
}

/** The stop notice's reason itself, or an `AbortError` it caused (`timers/promises`, `events.once` with the signal). */
export function isStopNotice(error: unknown, reason: unknown): boolean {
  return error === reason || (error instanceof Error && error.name === 'AbortError' && error.cause === reason)
}

/** `IncompleteReadError` (of `@socketserver/handlers`) of which nothing had come. */
function endedBetweenMessages(error: unknown): boolean {
  const { code, partial } = (error ?? {}) as { code?: unknown; partial?: { length?: unknown } }
  return code === 'SS_ERR_INCOMPLETE_READ' && partial?.length === 0
}

/** The library's errors that already say what happened to a request. */
function saysWhatHappened(error: unknown): boolean {
  return (
    error instanceof HandlerError ||
    error instanceof WorkerCrashedError ||
    error instanceof ClientDisconnectedError ||
    error instanceof RequestTimeoutError ||
    error instanceof DrainTimeoutError
  )
}

/** `ClientDisconnectedError` when `error` is this request's client leaving, else undefined. */
function clientLeft(request: Request, error: unknown): ClientDisconnectedError | undefined {
  if (request.kind !== 'stream' || !isOwnClientLeaving(request.socket, error)) return undefined
  return new ClientDisconnectedError(request.clientAddress, error)
}

/** System codes of a connection the peer broke. */
const BROKEN_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED'])

/** Codes of `@socketserver/handlers`' errors for a stream that ended inside a message. */
const ENDED_INSIDE_MESSAGE_CODES = new Set(['SS_ERR_INCOMPLETE_READ', 'SS_ERR_INCOMPLETE_FRAME'])

/** The calls of a connection's own I/O, whose failure is the peer's doing. */
const OWN_IO_CALLS = new Set(['read', 'write', 'writev', 'shutdown'])

/**
 * Whether `error` (or a cause of it) is this connection's client leaving,
 * never another connection's: this socket failed in its own I/O with a
 * broken-connection code (`read ECONNRESET`, `write EPIPE`), and the error
 * is that failure or carries its code; or an incomplete read or frame once
 * this client ended its side. A handler's error that merely carries such a
 * code while this socket is intact (a backend that reset) stays the
 * handler's. (A backend's read error that a `pipeline()` passed on to this
 * socket cannot be told from the client's own.)
 */
function isOwnClientLeaving(socket: Socket, error: unknown): boolean {
  const failure = socket.errored as (Error & { code?: unknown; syscall?: unknown }) | null
  const broken =
    failure !== null &&
    typeof failure.code === 'string' &&
    BROKEN_CONNECTION_CODES.has(failure.code) &&
    (failure.syscall === undefined || OWN_IO_CALLS.has(failure.syscall as string))
  let current = error
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code
    if (broken && (current === failure || code === failure.code)) return true
    if (typeof code === 'string' && ENDED_INSIDE_MESSAGE_CODES.has(code) && socket.readableEnded) return true
    current = current.cause
  }
  return false
}
