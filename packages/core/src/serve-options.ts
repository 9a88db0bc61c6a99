/**
 * Options of `serve()` and `handleRequest()`: types, defaults, validation.
 * Pure: nothing here opens a socket.
 *
 * @module
 */

import { InvalidOptionError } from './errors.js'
import { durationMs } from './internal/option-checks.js'
import { pooled } from './policies/pooled.js'
import type { AbortOptions, Policy, Request } from './types.js'

/**
 * How often `serviceActions` runs while serving, by default (Python's
 * `poll_interval`, 0.5 s). Unlike Python, stopping does not wait for this
 * interval: `serve()` reacts to its signal at once.
 */
export const DEFAULT_POLL_INTERVAL_MS = 500

/**
 * How long a stopping `serve()` lets running requests finish before it aborts
 * their signals and destroys their connections. Python has no such deadline:
 * `server_close()` waits for threads forever. Thirty seconds matches the
 * usual grace period of process supervisors (Kubernetes, systemd), so a
 * drain finishes before the supervisor kills the process.
 */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000

/** The hooks shared by `serve()` and `handleRequest()`. */
export interface RequestHooks<R extends Request = Request> {
  /**
   * Decides whether to serve a request (Python's `verify_request`). On false
   * the handler is never made and the connection is closed. Runs in the
   * accept path, one request at a time. The request's signal aborts if
   * `serve()` stops and the drain runs out while it decides: the request is
   * then refused and the abort reason reported. Default: accept everything.
   */
  verifyRequest?: (request: R) => boolean | Promise<boolean>
  /**
   * Receives every error, in one shape: a `SocketServerError` whose
   * `code` says what happened, never an error passed through bare (except
   * a reason of your own given to `request.abort(reason)`, reported as it
   * is). What user code threw is the `cause`:
   * - `HandlerError` (`SS_ERR_HANDLER`): the handler threw; `cause` is what
   *   it threw.
   * - `ClientDisconnectedError` (`SS_ERR_CLIENT_DISCONNECTED`): the client
   *   reset or left mid-request (the handler's read or write failed with
   *   `ECONNRESET`, `EPIPE`, an incomplete read; or the reply was lost to
   *   the reset, a `ReplyError`); `cause` is that error. The default does
   *   not print it. (A read between messages that a stop ended is no error.)
   * - `RequestTimeoutError`, `DrainTimeoutError`: the request was aborted
   *   (or its idle read timed out and the handler let the error through).
   * - `ReplyError`: a reply was lost to the handler's own mistake (a write
   *   after the end, or to a socket it destroyed), or a datagram's reply
   *   could not be sent.
   * - `WaitTimeoutError`, with `request` undefined: a request waited past
   *   the server's `maxWaitMs` for a free slot and was refused.
   * - `WorkerCrashedError`: a `forked()` child died.
   * - `HookError` (`SS_ERR_HOOK`): `verifyRequest` threw (the request is
   *   closed unserved), or, with `request` undefined, `serviceActions` did.
   * - With `request` undefined: requests the server refused before any
   *   handler saw them (`OverflowError`, `DatagramTooLargeError`) and
   *   accept failures (`DescriptorsExhaustedError`).
   *
   * Python's `handle_error`. Default: `defaultHandleError`, one line on
   * stderr with the client's address (Python prints a whole traceback).
   * Every error is also published on the `socketserver:request:error`
   * diagnostics channel, where a client that left can be counted.
   */
  handleError?: (error: unknown, request: R | undefined) => void
  /**
   * Longest time one request may run, in milliseconds; then its signal aborts
   * with `RequestTimeoutError` and its connection is destroyed. The time
   * includes closing the request, which waits until the reply was handed to
   * the kernel: a client that reads nothing cannot hold a request (and its
   * place in a pool) longer. Default: no limit. (Python's `timeout` only
   * bounds the wait for a request, so one idle client can freeze a
   * synchronous server, gh-102156.)
   */
  timeoutMs?: number
}

/** Options of `serve()`. */
export interface ServeOptions<R extends Request = Request> extends RequestHooks<R>, AbortOptions {
  /**
   * How requests are scheduled: `sequential()`, `pooled()` (Python's mix-ins).
   * Default `pooled()`: Python's plain server serves one request at a time,
   * so one slow client stalls everyone; choose `sequential()` for that.
   */
  policy?: Policy
  /**
   * Runs every `pollIntervalMs` and after each request (Python's
   * `service_actions`), one run at a time: a call due while one is running
   * shares it. Its errors go to `handleError`. When `serve()` stops, a run
   * still going is waited for up to `drainTimeoutMs`, then given up (a
   * `DrainTimeoutError` is reported).
   */
  serviceActions?: () => void | Promise<void>
  /** Interval of `serviceActions`, in milliseconds. Default {@link DEFAULT_POLL_INTERVAL_MS}. */
  pollIntervalMs?: number
  /**
   * After the signal aborts, how long running requests may take to finish.
   * Default {@link DEFAULT_DRAIN_TIMEOUT_MS}.
   */
  drainTimeoutMs?: number
  /** Aborting it ends the drain at once: every running request is aborted. */
  forceSignal?: AbortSignal
}

/** Options of `handleRequest()`. */
export interface HandleRequestOptions<R extends Request = Request> extends RequestHooks<R>, AbortOptions {
  /**
   * How long to wait for a request, in milliseconds (Python's `timeout` in
   * `handle_request()`); then `handleTimeout` runs. Default: wait forever.
   */
  waitTimeoutMs?: number
  /** Called when no request came within `waitTimeoutMs`; its return value is returned. */
  handleTimeout?: () => unknown
}

/** `serve()` options with defaults applied. */
export interface ResolvedServeOptions<R extends Request> extends ServeOptions<R> {
  policy: Policy
  pollIntervalMs: number
  drainTimeoutMs: number
}

/**
 * Validates options and fills in defaults.
 *
 * @throws InvalidOptionError for any value outside its domain.
 */
export function resolveServeOptions<R extends Request>(options: ServeOptions<R>): ResolvedServeOptions<R> {
  checkHooks(options)
  const pollIntervalMs = durationMs('pollIntervalMs', options.pollIntervalMs) ?? DEFAULT_POLL_INTERVAL_MS
  if (pollIntervalMs === 0) throw new InvalidOptionError('pollIntervalMs', 'Cannot use pollIntervalMs 0: expected a positive number')
  if (options.policy !== undefined && typeof options.policy !== 'function') {
    throw new InvalidOptionError('policy', 'Cannot use the policy: expected sequential(), pooled() or another policy function')
  }
  if (options.serviceActions !== undefined && typeof options.serviceActions !== 'function') {
    throw new InvalidOptionError('serviceActions', 'Cannot use serviceActions: expected a function')
  }
  for (const name of ['signal', 'forceSignal'] as const) {
    const value = options[name]
    if (value !== undefined && !(value instanceof AbortSignal)) {
      throw new InvalidOptionError(name, `Cannot use ${name}: expected an AbortSignal (from an AbortController)`)
    }
  }
  return {
    ...options,
    policy: options.policy ?? pooled(),
    pollIntervalMs,
    drainTimeoutMs: durationMs('drainTimeoutMs', options.drainTimeoutMs) ?? DEFAULT_DRAIN_TIMEOUT_MS,
  }
}

/**
 * Validates `handleRequest()` options.
 *
 * @throws InvalidOptionError for any value outside its domain.
 */
export function checkHandleRequestOptions<R extends Request>(options: HandleRequestOptions<R>): void {
  checkHooks(options)
  durationMs('waitTimeoutMs', options.waitTimeoutMs)
  if (options.handleTimeout !== undefined && typeof options.handleTimeout !== 'function') {
    throw new InvalidOptionError('handleTimeout', 'Cannot use handleTimeout: expected a function')
  }
}

function checkHooks<R extends Request>(options: RequestHooks<R>): void {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'Cannot use the options: expected an object')
  for (const hook of ['verifyRequest', 'handleError'] as const) {
    if (options[hook] !== undefined && typeof options[hook] !== 'function') {
      throw new InvalidOptionError(hook, `Cannot use ${hook}: expected a function`)
    }
  }
  const timeoutMs = durationMs('timeoutMs', options.timeoutMs)
  if (timeoutMs === 0) throw new InvalidOptionError('timeoutMs', 'Cannot use timeoutMs 0: expected a positive number')
}
