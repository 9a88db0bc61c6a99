/**
 * Runs one request through the hooks, in Python's order: setup, handle,
 * finish (inside the handler), then shutdown and close of the request.
 * Shared by `serve()` and `handleRequest()`.
 *
 * @module
 */

import { abortable } from 'abort-controller-x'
import { formatAddress } from './address.js'
import { channels } from './diagnostics.js'
import { ClientDisconnectedError, HookError, InvalidOptionError, RequestRefusedError, RequestTimeoutError } from './errors.js'
import { abortStateOf } from './internal/abort-state.js'
import { NOTHING_TO_CLOSE } from './internal/fast-paths.js'
import { closeFailureOf, failureOf } from './request-failure.js'
import type { RequestHooks } from './serve-options.js'
import type { Handler, HandlerEnding, Request, RequestHandlerClass, RequestHandlerFunction, RunRequest } from './types.js'

/** What serving one request came to. */
export interface Outcome<R extends Request = Request> {
  readonly request: R
  /** Undefined when the request succeeded. */
  readonly error: unknown
}

/**
 * Whether `handler` is a handler class (it has a `run()` method on its
 * prototype) rather than a plain function.
 *
 * @deprecated Public by accident (#17): how `serve()` tells a class from a
 * function is its own business, and this export leaves the public API in
 * the next release. Test `typeof handler.prototype?.run === 'function'`
 * yourself if you need to.
 *
 * @param handler - A class or a function.
 * @returns true for a class such as `BaseRequestHandler`.
 * @example
 * ```ts
 * isHandlerClass(class extends BaseRequestHandler {}) // true
 * isHandlerClass((request) => request.socket.end())   // false
 * ```
 */
export function isHandlerClass<R extends Request>(handler: Handler<R>): handler is RequestHandlerClass<R> {
  const prototype = (handler as { prototype?: { run?: unknown } }).prototype
  return typeof prototype?.run === 'function'
}

/**
 * Checks that `handler` can serve requests.
 *
 * @internal
 */
export function handlerInvoker<R extends Request>(handler: Handler<R>): (request: R) => Promise<unknown> {
  if (typeof handler !== 'function') {
    throw new InvalidOptionError('handler', 'Cannot serve with the handler: expected a handler class or a function')
  }
  if (isHandlerClass(handler)) return (request) => new handler(request).run()
  const run = handler as RequestHandlerFunction<R>
  return (request) => {
    try {
      const result = run(request)
      return result instanceof Promise ? result : Promise.resolve(result)
    } catch (error) {
      return Promise.reject(error)
    }
  }
}

/**
 * Reports an error: diagnostics channel, then the user's `handleError` or the
 * default one-line report. Never throws.
 *
 * @internal
 */
export function reportError<R extends Request>(hooks: RequestHooks<R>, error: unknown, request: R | undefined): void {
  channels.requestError.publish({ request, error })
  try {
    if (hooks.handleError !== undefined) hooks.handleError(error, request)
    else defaultHandleError(error, request)
  } catch (hookError) {
    defaultHandleError(hookError, request)
  }
}

/**
 * The default `handleError`: one concise line on stderr naming the client
 * (Python prints a whole traceback between dashes). A
 * `ClientDisconnectedError` is not printed: a client that resets or leaves
 * mid-request is the client's doing; count it on the
 * `socketserver:request:error` channel if you want to know.
 *
 * @param error - What went wrong.
 * @param request - The request it concerns, if any.
 * @example
 * ```ts
 * serve(server, handler, { handleError: (error, request) => { metrics.count(error); defaultHandleError(error, request) } })
 * ```
 */
export function defaultHandleError(error: unknown, request: Request | undefined): void {
  // A client that left is the client's doing, and common (a chat client
  // closing its laptop): counted on the channel, not printed.
  if (error instanceof ClientDisconnectedError) return
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  // Errors that carry the client (HandlerError, WorkerCrashedError,
  // ReplyError, ...) name it in their message already.
  const named = error instanceof Error && 'clientAddress' in error
  const from = request !== undefined && !named ? ` (client ${formatAddress(request.clientAddress)})` : ''
  try {
    process.stderr.write(`socketserver: ${message}${from}\n`)
  } catch {
    // stderr closed: nowhere left to report (Python raises here).
  }
}

/**
 * Runs `verifyRequest` (Python's `verify_request`). A request it rejects, or
 * whose check throws (reported to `handleError`), is closed unserved.
 *
 * @internal
 * @returns Whether to serve the request.
 */
export async function verifyRequest<R extends Request>(hooks: RequestHooks<R>, request: R): Promise<boolean> {
  if (hooks.verifyRequest === undefined) return true
  let accepted = false
  let failure: unknown
  try {
    // A check that never settles ends with the request's abort (a drain
    // that ran out, the request's own abort).
    accepted = await abortable(request.signal, Promise.resolve(hooks.verifyRequest(request)))
  } catch (error) {
    failure = request.signal.aborted ? request.signal.reason : new HookError('verifyRequest', error, request.clientAddress)
    reportError(hooks, failure, request)
  }
  if (!accepted) {
    channels.requestRejected.publish({ request })
    tellHandled(hooks, request, { failed: true, error: failure ?? new RequestRefusedError(request.clientAddress) })
    // A refusal the handler wrote may not go out (the client reset): that
    // is reported like any lost reply, never an unhandled rejection.
    request.close().catch((error: unknown) => reportError(hooks, closeFailureOf(request, error), request))
  }
  return accepted
}

/** The function that serves one request, with its callback form (see {@link RunRequest}). @internal */
export interface RequestRun<R extends Request> extends RunRequest<R, Outcome<R>> {
  readonly runWithCallbacks: NonNullable<RunRequest<R, Outcome<R>>['runWithCallbacks']>
}

/**
 * Makes the function that serves one request: runs the handler until it
 * settles or the request's signal aborts, reports any error, closes the
 * request. Never rejects: a failure to close the request (a reply that
 * could not be sent) is reported as its outcome.
 *
 * @internal
 */
export function requestRunner<R extends Request>(handler: Handler<R>, hooks: RequestHooks<R>, tracking?: RunTracking<R>): RequestRun<R> {
  const invoke = handlerInvoker(handler)
  const timeoutMs = hooks.timeoutMs
  const runWithCallbacks: RequestRun<R>['runWithCallbacks'] = (request, settled) => {
    tracking?.started(request)
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => request.abort(new RequestTimeoutError(timeoutMs)), timeoutMs)
    if (channels.requestStart.hasSubscribers) channels.requestStart.publish({ request })
    const state = abortStateOf(request)
    const work = invokeSafely(invoke, request)
    if (state === undefined) {
      settleForeign(hooks, request, abortable(request.signal, work)).then((error) =>
        end(request, error, hooks, tracking, settled, timer, request.signal),
      )
      return
    }
    // Our own requests: no AbortSignal listener and no promise wrapper per
    // request; the abort hook and the handler race to call finish() first.
    // Called with the error (a handler failure or the abort reason), or
    // with `succeeded` true. One function for all three ways to end, so
    // that a waiting request holds as few closures as possible.
    let finished = false
    const finish = (thrown: unknown, succeeded?: boolean, value?: unknown): void => {
      if (finished) return
      finished = true
      state.onAbort(undefined)
      const error = succeeded === true ? undefined : failureOf(request, thrown, state.aborted, state.reason)
      if (request.handled !== undefined) tellHandled(hooks, request, endingOf(succeeded, value, error, thrown, state))
      end(request, error, hooks, tracking, settled, timer, state)
    }
    if (state.aborted) {
      work.catch(() => {})
      finish(state.reason)
      return
    }
    state.onAbort(finish)
    work.then((value) => finish(undefined, true, value), finish)
  }
  const run = (request: R): Promise<Outcome<R>> => new Promise((resolve, reject) => runWithCallbacks(request, resolve, reject))
  return Object.assign(run, { runWithCallbacks })
}

/** The handler's promise; a synchronous throw (a constructor's) becomes a rejection. */
function invokeSafely<R extends Request>(invoke: (request: R) => Promise<unknown>, request: R): Promise<unknown> {
  try {
    return invoke(request)
  } catch (error) {
    return Promise.reject(error)
  }
}

/** A request of another library: its `signal` is all we have. Resolves with the error to report, if any. */
async function settleForeign<R extends Request>(hooks: RequestHooks<R>, request: R, work: Promise<unknown>): Promise<unknown> {
  let value: unknown
  try {
    value = await work
  } catch (thrown) {
    const error = failureOf(request, thrown, request.signal.aborted, request.signal.reason)
    if (request.handled !== undefined) tellHandled(hooks, request, endingOf(false, undefined, error, thrown, request.signal))
    return error
  }
  if (request.handled !== undefined) tellHandled(hooks, request, { failed: false, value })
  return undefined
}

/**
 * How the handler ended, for {@link Request.handled}: its value, or the
 * error reported (the abort reason when aborted), or, for a handler that
 * left because serving stops (nothing reported), what it threw, so that
 * the request can tell the stop from a success.
 */
function endingOf(
  succeeded: boolean | undefined,
  value: unknown,
  error: unknown,
  thrown: unknown,
  abort: { readonly aborted: boolean; readonly reason: unknown },
): HandlerEnding {
  if (succeeded === true) return { failed: false, value }
  if (error !== undefined) return { failed: true, error }
  return { failed: true, error: abort.aborted ? abort.reason : thrown }
}

/** Tells a request how its handler ended; a `handled()` that throws is reported, never thrown. */
function tellHandled<R extends Request>(hooks: RequestHooks<R>, request: R, ending: HandlerEnding): void {
  try {
    request.handled?.(ending)
  } catch (error) {
    reportError(hooks, error, request)
  }
}

/**
 * Reports, closes the request, and says how it ended; a close that fails
 * (the reply could not all be sent) is the request's failure. The
 * request's timeout runs on until the close has settled: closing a
 * connection waits until its reply was handed to the kernel, and a client
 * that reads nothing must not hold the request past `timeoutMs`.
 * A request aborted while closing (that timeout, or a drain that ran out)
 * ends with the abort reason: its reply may have been cut short.
 */
function end<R extends Request>(
  request: R,
  error: unknown,
  hooks: RequestHooks<R>,
  tracking: RunTracking<R> | undefined,
  settled: (outcome: Outcome<R>) => void,
  timer: NodeJS.Timeout | undefined,
  abort: { readonly aborted: boolean; readonly reason: unknown },
): void {
  if (error !== undefined) reportError(hooks, error, request)
  let closing: Promise<void>
  try {
    closing = request.close()
  } catch (closeError) {
    closing = Promise.reject(closeError)
  }
  // A datagram has nothing to close: no promise turn for it.
  if (closing === NOTHING_TO_CLOSE) {
    clearTimeout(timer)
    settled(ended(request, error, tracking))
    return
  }
  // However the close settles: what was reported already (the handler's
  // error) stays the outcome; else an abort meanwhile, else a close that
  // failed (its reply could not all be sent), which never ends serving.
  const closed = (failed: boolean, closeError?: unknown): void => {
    clearTimeout(timer)
    let outcome = error
    if (outcome === undefined && (abort.aborted || failed)) {
      outcome = abort.aborted ? abort.reason : closeFailureOf(request, closeError)
      reportError(hooks, outcome, request)
    }
    settled(ended(request, outcome, tracking))
  }
  closing.then(
    () => closed(false),
    (closeError: unknown) => closed(true, closeError),
  )
}

/** Tells the tracker and the diagnostics channel that the request ended. */
function ended<R extends Request>(request: R, error: unknown, tracking: RunTracking<R> | undefined): Outcome<R> {
  tracking?.ended(request)
  if (channels.requestEnd.hasSubscribers) channels.requestEnd.publish({ request, error })
  return { request, error }
}

/**
 * Told, synchronously, when a request starts and when it has ended (after
 * its close), so `serve()` knows what runs without wrapping each run in
 * another promise.
 *
 * @internal
 */
export interface RunTracking<R extends Request> {
  started(request: R): void
  ended(request: R): void
}
