/**
 * `serve()`: the loop with every hook of Python's `serve_forever()`, as an
 * it-pipe pipeline: server → verify → policy → outcomes.
 *
 * @module
 */

import { pipe } from 'it-pipe'
import { InvalidOptionError } from './errors.js'
import { Drain } from './internal/drain.js'
import { withEndNotice } from './internal/end-of-requests.js'
import { ServiceActions } from './internal/service-actions.js'
import { type Outcome, reportError, requestRunner, verifyRequest } from './request-runner.js'
import { resolveServeOptions, type ServeOptions } from './serve-options.js'
import type { Handler, Outcomes, Policy, Request, Server } from './types.js'

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
  const handle = requestHandler(handler, resolved.policy)
  const { signal, forceSignal } = resolved
  if (signal?.aborted === true) {
    await server.close()
    return
  }
  const drain = new Drain<R>(resolved.drainTimeoutMs)
  // The stop: running requests are told and the deadline armed, once; the
  // server hands out no more requests (a datagram server keeps its socket
  // for their replies until the end, below).
  const stop = (): void => {
    if (!drain.beginStop()) return
    if (server.stopAccepting !== undefined) server.stopAccepting()
    else void server.close()
  }
  // The server's drops go to handleError; its close by other means
  // (`server.close()`, its own signal) is the same stop. A server that
  // cannot tell is watched for the end of its requests instead.
  const unobserve = server.observe?.({ dropped: (error) => reportError(resolved, error, undefined), closed: stop })
  const requests = unobserve === undefined ? withEndNotice(server, stop) : server
  signal?.addEventListener('abort', stop)
  forceSignal?.addEventListener('abort', drain.force)
  if (forceSignal?.aborted === true) drain.force()
  const actions =
    resolved.serviceActions === undefined
      ? undefined
      : new ServiceActions(resolved.serviceActions, resolved.pollIntervalMs, (error) => reportError(resolved, error, undefined))
  actions?.start()
  try {
    await pipe(verified(requests, resolved, drain), resolved.policy(requestRunner(handle, resolved, drain)), (outcomes) =>
      consume(outcomes, actions),
    )
  } catch (error) {
    // The pipeline failed (a server whose iteration throws) while requests
    // still run: they are drained as on a stop, not left behind untracked.
    if (drain.size > 0) {
      stop()
      await drain.untilIdle()
    }
    throw error
  } finally {
    unobserve?.()
    signal?.removeEventListener('abort', stop)
    // A service action still running is waited for, but no longer than the
    // drain allows: one that never settles must not keep serve() from ending.
    if (actions !== undefined && !(await drain.within(actions.stop()))) reportError(resolved, drain.forced, undefined)
    forceSignal?.removeEventListener('abort', drain.force)
    drain.dispose()
    await server.close()
  }
}

/** The handler that serves each request: the one given, or the policy's own (`forked()`: the module's, in children). */
function requestHandler<R extends Request>(handler: Handler<R> | null, policy: Policy): Handler<R> {
  const own = policy.handler as Handler<R> | undefined
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
  return effective
}

/** Reads the policy's outcomes to their end, running service actions after each; without them, outcomes are discarded unread. */
async function consume<R extends Request>(outcomes: Outcomes<Outcome<R>>, actions: ServiceActions | undefined): Promise<void> {
  if (actions === undefined) outcomes.discardOutcomes?.()
  for await (const _ of outcomes) {
    if (actions !== undefined) await actions.run()
  }
}

/**
 * The requests `verifyRequest` accepts; the others are closed unserved. A
 * request counts as running while it is verified, so a drain that runs out
 * aborts a check that never settles.
 */
function verified<R extends Request>(requests: AsyncIterable<R>, hooks: ServeOptions<R>, drain: Drain<R>): AsyncIterable<R> {
  // Without the hook, skip a generator hop per request.
  return hooks.verifyRequest === undefined ? requests : verifiedBy(requests, hooks, drain)
}

async function* verifiedBy<R extends Request>(
  requests: AsyncIterable<R>,
  hooks: ServeOptions<R>,
  drain: Drain<R>,
): AsyncGenerator<R, void, undefined> {
  for await (const request of requests) {
    drain.add(request)
    let accepted: boolean
    try {
      accepted = await verifyRequest(hooks, request)
    } finally {
      drain.delete(request)
    }
    if (accepted) yield request
  }
}
