/**
 * `serve()`: the loop with every hook of Python's `serve_forever()`, as an
 * it-pipe pipeline: server → verify → policy → outcomes.
 *
 * @module
 */

import { delay, isAbortError } from 'abort-controller-x'
import { pipe } from 'it-pipe'
import { channels } from './diagnostics.js'
import { DrainTimeoutError, HookError, InvalidOptionError, ServerStoppingError } from './errors.js'
import { RunningRequests } from './internal/running-requests.js'
import { DISCARD_OUTCOMES } from './policies/pooled-run.js'
import { type Outcome, reportError, requestRunner, verifyRequest } from './request-runner.js'
import { resolveServeOptions, type ServeOptions } from './serve-options.js'
import type { Handler, Request, Server } from './types.js'

/**
 * Serves requests from `server` with `handler` until `options.signal` aborts
 * or the server is closed, then drains. Python counterpart:
 * `serve_forever()` with `shutdown()` (the signal) and `server_close()`.
 *
 * For each request, in Python's order: `verifyRequest`, then the policy runs
 * the handler (`setup`, `handle`, `finish` for handler classes), then the
 * connection is shut down and closed. A handler error reaches `handleError`
 * and never ends serving.
 *
 * Abort behaviour: when `options.signal` aborts, the server stops accepting
 * at once (no poll interval), its listener closes and a Unix socket file we
 * created is removed; then every running request is told
 * (`request.stop()`: its `stopping` signal aborts, and a connection waiting
 * idle for its client's next bytes ends its read, so idle connections close
 * at once while one in the middle of a request finishes it). Closing the
 * server by other means (`server.close()`, its own signal) stops serving the
 * same way once it has closed. Connections accepted but not yet handed to the policy
 * are closed and counted on `socketserver:server:close`. A datagram server
 * stops handing out datagrams at once (those queued or arriving are dropped
 * and counted the same way) but keeps its socket until the drain is over,
 * because running requests reply through it. Running requests
 * may finish, writing their replies in full; after `drainTimeoutMs` (or when
 * `forceSignal` aborts) each running request's signal aborts with
 * `DrainTimeoutError`, its connection is destroyed (unsent bytes are
 * dropped) and `serve()` stops waiting for it. `serve()` resolves once
 * nothing is left running, and removes every listener it added to the
 * signals. An already aborted signal closes the server and resolves.
 *
 * @param server - A listening server, such as `await TCPServer.listen()`.
 * @param handler - A handler class (`StreamRequestHandler` subclass) or a
 *   function `(request) => ...`; `null` with a policy that brings its own
 *   handler (`forked()`).
 * @param options - Signal, policy and hooks; see {@link ServeOptions}.
 * @returns Resolves when serving and draining are over.
 * @throws InvalidOptionError for bad options, and for a handler given with
 *   a policy that brings its own (`forked()`: pass `null`); rejects only on a fatal error
 *   of the server itself, never because of a request.
 * @example
 * ```ts
 * const server = await TCPServer.listen({ host: '127.0.0.1', port: 7007 })
 * const controller = new AbortController()
 * process.once('SIGTERM', () => controller.abort())
 * await serve(server, async (request) => { await pipe(request, request) }, {
 *   signal: controller.signal,
 *   policy: pooled({ concurrency: 100 }),
 *   timeoutMs: 60_000,
 * })
 * ```
 */
export async function serve<R extends Request>(
  server: Server<R>,
  handler: Handler<R> | null,
  options: ServeOptions<R> = {},
): Promise<void> {
  const resolved = resolveServeOptions(options)
  const { signal, forceSignal, drainTimeoutMs } = resolved
  const own = resolved.policy.handler as Handler<R> | undefined
  if (own !== undefined && handler !== null) {
    // It would be ignored: the policy runs its module's handler in children.
    throw new InvalidOptionError(
      'handler',
      "Cannot serve with a handler and a policy that brings its own (forked()): pass null as the handler; the children run the module's default export",
    )
  }
  const effective = own ?? handler
  if (effective === null) {
    throw new InvalidOptionError(
      'handler',
      'Cannot serve without a handler: pass a handler class or function, or a policy that brings one (forked())',
    )
  }
  if (signal?.aborted === true) {
    await server.close()
    return
  }
  const running = new RunningRequests<R>()
  let forced: DrainTimeoutError | undefined
  let drainTimer: NodeJS.Timeout | undefined
  let onForced: (() => void) | undefined
  let onIdle: (() => void) | undefined
  const force = (): void => {
    forced ??= new DrainTimeoutError(drainTimeoutMs)
    for (const request of running.snapshot()) request.abort(forced)
    onForced?.()
  }
  let stopping: ServerStoppingError | undefined
  const stop = (): void => {
    // Once: the server's close comes back here through its channel.
    if (stopping !== undefined) return
    stopping = new ServerStoppingError()
    // Stop accepting first: a datagram server keeps its socket until the
    // drain is over (closed in the finally below), as running requests
    // reply through it.
    if (server.stopAccepting !== undefined) server.stopAccepting()
    else void server.close()
    drainTimer ??= setTimeout(force, drainTimeoutMs)
    // Then every running request learns of the stop (idle connections end
    // their reads); one that starts later learns at its start. A snapshot:
    // a request may end while it is told.
    for (const request of running.snapshot()) tellStopping(request, stopping)
  }
  const serviceLoop = new AbortController()
  const serviceActions = resolved.serviceActions
  // One run at a time, as Python's loop calls service_actions(): the poll
  // and the call after a request share a run that is still going.
  let serviceRun: Promise<void> | undefined
  const runServiceActions = (): Promise<void> => {
    serviceRun ??= (async () => {
      try {
        await serviceActions?.()
      } catch (error) {
        reportError(resolved, new HookError('serviceActions', error), undefined)
      } finally {
        serviceRun = undefined
      }
    })()
    return serviceRun
  }

  const run = requestRunner(effective, resolved, {
    started: (request) => {
      running.add(request)
      if (stopping !== undefined) tellStopping(request, stopping)
      if (forced !== undefined) request.abort(forced)
    },
    ended: (request) => {
      running.delete(request)
      if (running.size === 0) onIdle?.()
    },
  })

  // Requests refused before any handler saw them (overflow, oversized
  // datagrams) and accept failures (descriptors exhausted) are the server's
  // to report; pass this server's to handleError.
  const onDrop = (message: unknown): void => {
    const { server: from, error } = message as { server: unknown; error: unknown }
    if (from === server) reportError(resolved, error, undefined)
  }
  // The server closed by other means (`server.close()`, its own signal):
  // the same stop, so running requests are told and the drain is bounded.
  const onServerClose = (message: unknown): void => {
    if ((message as { server: unknown }).server === server) stop()
  }
  channels.serverDrop.subscribe(onDrop)
  channels.serverAcceptError.subscribe(onDrop)
  channels.serverClose.subscribe(onServerClose)
  signal?.addEventListener('abort', stop)
  forceSignal?.addEventListener('abort', force)
  if (forceSignal?.aborted === true) force()
  const serviceDone =
    serviceActions === undefined ? Promise.resolve() : pollServiceActions(serviceLoop.signal, resolved.pollIntervalMs, runServiceActions)
  let failed = false
  try {
    await pipe(verified(server, resolved, running), resolved.policy(run), async (outcomes: AsyncIterable<Outcome<R>>) => {
      if (serviceActions === undefined) (outcomes as { [DISCARD_OUTCOMES]?: () => void })[DISCARD_OUTCOMES]?.()
      for await (const _ of outcomes) {
        if (serviceActions !== undefined) await runServiceActions()
      }
    })
  } catch (error) {
    failed = true
    throw error
  } finally {
    channels.serverDrop.unsubscribe(onDrop)
    channels.serverAcceptError.unsubscribe(onDrop)
    channels.serverClose.unsubscribe(onServerClose)
    signal?.removeEventListener('abort', stop)
    serviceLoop.abort()
    // The pipeline failed (a server whose iteration throws) while requests
    // still run: they are drained as on a stop, not left behind untracked.
    if (failed && running.size > 0) {
      stop()
      await new Promise<void>((resolve) => {
        onIdle = resolve
      })
    }
    // A service action still running is waited for, but no longer than the
    // drain allows: one that never settles must not keep serve() from ending.
    if (forced === undefined) {
      const gaveUp = new Promise<void>((resolve) => {
        onForced = resolve
      })
      drainTimer ??= setTimeout(force, drainTimeoutMs)
      await Promise.race([serviceDone, gaveUp])
      if (forced !== undefined) reportError(resolved, forced, undefined)
    }
    forceSignal?.removeEventListener('abort', force)
    clearTimeout(drainTimer)
    await server.close()
  }
}

/** Gives a request the stop notice; a request of another library may not take it. */
function tellStopping(request: Request, reason: ServerStoppingError): void {
  ;(request as Partial<Request>).stop?.(reason)
}

/**
 * The requests `verifyRequest` accepts; the others are closed unserved. A
 * request counts as running while it is verified, so a drain that runs out
 * aborts a check that never settles.
 */
function verified<R extends Request>(server: Server<R>, hooks: ServeOptions<R>, running: RunningRequests<R>): AsyncIterable<R> {
  // Without the hook, skip a generator hop per request.
  return hooks.verifyRequest === undefined ? server : verifiedBy(server, hooks, running)
}

async function* verifiedBy<R extends Request>(
  server: Server<R>,
  hooks: ServeOptions<R>,
  running: RunningRequests<R>,
): AsyncGenerator<R, void, undefined> {
  for await (const request of server) {
    running.add(request)
    let accepted: boolean
    try {
      accepted = await verifyRequest(hooks, request)
    } finally {
      running.delete(request)
    }
    if (accepted) yield request
  }
}

async function pollServiceActions(signal: AbortSignal, intervalMs: number, action: () => Promise<void>): Promise<void> {
  try {
    for (;;) {
      await delay(signal, intervalMs)
      await action()
    }
  } catch (error) {
    if (!isAbortError(error) && !signal.aborted) throw error
  }
}
