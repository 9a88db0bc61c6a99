/**
 * Each request in a child process.
 *
 * @module
 */

import { InvalidOptionError } from '../errors.js'
import { integerAtLeast } from '../internal/option-checks.js'
import type { Handler, Policy, Request } from '../types.js'
import { moduleUrlOf } from './child-entry.js'
import { ChildPool } from './child-pool.js'
import { runPooled } from './pooled.js'

/** How many child processes `forked()` runs at once by default (Python's `max_children`). */
export const DEFAULT_MAX_CHILDREN = 40

/**
 * How long an idle child is kept for reuse by default. Starting a Node
 * process costs tens of milliseconds, far more than Python's fork(), so
 * children are reused; ten seconds of idleness returns their memory.
 */
export const DEFAULT_CHILD_IDLE_TIMEOUT_MS = 10_000

/** Options of {@link forked}. */
export interface ForkedOptions {
  /**
   * The ES module whose default export is the handler (a handler class or a
   * function), as a path (relative to the current directory) or a URL. Each
   * child imports it once. It must be JavaScript (`.js`, `.mjs`): children
   * are plain Node processes, which cannot import TypeScript on Node 20, and
   * a test runner's TypeScript loader (vitest's) does not reach them; build
   * the module first, or write it in JavaScript.
   */
  module: string | URL
  /**
   * The most children at once; at that many busy, no request is pulled.
   * Default {@link DEFAULT_MAX_CHILDREN}. Each child is a Node process: for
   * short requests, about two per CPU serve the most (more only add process
   * switches, and each child, running a smaller share of the requests, has
   * its code optimized later); for requests that wait on I/O, as many as
   * should run at once (figures: the README's "Choosing a policy").
   */
  maxChildren?: number
  /**
   * Requests one child serves at once. Default 1: a process per request, as
   * Python's `ForkingMixIn` (a crash or a hung handler takes only its own
   * request with it). Higher values trade that isolation for speed: each
   * child then serves several connections in one event loop, so a process
   * switch is no longer paid per request (see the benchmarks), and at most
   * `maxChildren × childConcurrency` requests run. A request that times out
   * is then aborted inside its child rather than killing the child (which is
   * killed only if the request has not ended 2 s later).
   */
  childConcurrency?: number
  /** Children started, and their module loaded, before the first request. Default 1 (which also checks the module at start). */
  prefork?: number
  /**
   * Requests a child serves before it is replaced. Default: no limit.
   * 1 gives Python's one child per request.
   */
  maxRequestsPerChild?: number
  /** How long an idle child is kept. Default {@link DEFAULT_CHILD_IDLE_TIMEOUT_MS}. */
  idleTimeoutMs?: number
  /** When the server stops, wait for busy children (Python's `block_on_close`). Default true. */
  blockOnClose?: boolean
  /** Node options for the children, such as `['--max-old-space-size=128']`. Default none. */
  execArgv?: string[]
  /** Extra environment variables for the children. */
  env?: NodeJS.ProcessEnv
}

/** A policy that brings its own handler: the module's, run in child processes. */
export interface ForkedPolicy extends Policy {
  /** Serves a request in a child process; `serve()` uses it in place of its handler argument. */
  readonly handler: Handler<Request>
  /** Process ids of the children alive now. */
  readonly pids: readonly number[]
}

/**
 * Serves each request in a child process, for handlers that must be
 * isolated: a crash, a leak or a CPU-bound loop in one request cannot take
 * down the server or stall other requests. Python counterpart:
 * `ForkingMixIn` (`ForkingTCPServer`, ...).
 *
 * Node cannot fork a running process, so children are started with
 * `child_process.fork` and import `module` once. A stream connection is
 * handed to the child as a handle (the parent reads none of it and keeps
 * nothing of it); when a wrapper read from it first (a PROXY header), the
 * bytes it put back go to the child with it, and so do the facts it added
 * to the request as own enumerable properties (`proxyAddress`, `proxy`),
 * which must be structured-cloneable. A connection encrypted in the parent
 * (a TLS request of `withTLS()`) cannot be handed over, since its session
 * lives in the parent: the parent keeps it, and the child gets one end of a
 * Unix socket pair over which the parent relays the plaintext both ways (the
 * handshake never holds a child, and the facts, `request.tls` among them,
 * go along). A datagram is relayed over IPC and the child's reply is
 * sent by the parent from the server's own socket. In the child the handler
 * sees the same `StreamRequest` / `DatagramRequest` shapes; `request.server`
 * there only carries the server's address.
 *
 * At `maxChildren` busy it stops pulling requests (clients wait in the
 * kernel backlog); unlike Python's accept loop it never goes deaf to
 * shutdown. A child that dies mid-request fails that request only, with a
 * `WorkerCrashedError`; a request that overruns `timeoutMs` or the drain
 * deadline has its child killed and replaced. Children exit when the stage
 * ends, and on their own if the parent dies.
 *
 * @param options - The module and the pool's limits.
 * @returns A policy; pass `null` as `serve()`'s handler, the policy brings its own.
 * @throws InvalidOptionError for bad options; `serve()` rejects with
 *   `WorkerStartError` at start when the module cannot be loaded.
 * @example
 * ```ts
 * await serve(server, null, {
 *   policy: forked({ module: new URL('./handler.js', import.meta.url), maxChildren: 8 }),
 *   signal,
 * })
 * ```
 */
export function forked(options: ForkedOptions): ForkedPolicy {
  if (options === null || typeof options !== 'object' || (typeof options.module !== 'string' && !(options.module instanceof URL))) {
    throw new InvalidOptionError('module', 'Cannot use forked() without a module: expected the path or URL of a handler module')
  }
  const maxChildren = integerAtLeast('maxChildren', options.maxChildren ?? DEFAULT_MAX_CHILDREN, 1)
  const childConcurrency = integerAtLeast('childConcurrency', options.childConcurrency ?? 1, 1)
  const prefork = integerAtLeast('prefork', options.prefork ?? 1, 0)
  const maxRequestsPerChild =
    options.maxRequestsPerChild === undefined ? Infinity : integerAtLeast('maxRequestsPerChild', options.maxRequestsPerChild, 1)
  const idleTimeoutMs = integerAtLeast('idleTimeoutMs', options.idleTimeoutMs ?? DEFAULT_CHILD_IDLE_TIMEOUT_MS, 1)
  const blockOnClose = options.blockOnClose ?? true
  const pool = new ChildPool({
    moduleUrl: moduleUrlOf(options.module),
    maxChildren,
    concurrency: childConcurrency,
    maxRequestsPerChild,
    idleTimeoutMs,
    execArgv: options.execArgv ?? [],
    env: options.env ?? {},
  })
  let users = 0
  const stage = <R, O>(run: (request: R) => Promise<O>) =>
    async function* (source: AsyncIterable<R>): AsyncGenerator<O, void, undefined> {
      users++
      try {
        await pool.prefork(Math.min(prefork, maxChildren))
        yield* runPooled(source, run, maxChildren * childConcurrency, blockOnClose, false)
      } finally {
        // Several serve() calls may share one policy: the last one out ends the children.
        if (--users === 0) await pool.close()
      }
    }
  return Object.defineProperties(stage as Policy, {
    handler: { value: (request: Request) => pool.dispatch(request), enumerable: true },
    pids: { get: () => pool.pids, enumerable: true },
  }) as ForkedPolicy
}
