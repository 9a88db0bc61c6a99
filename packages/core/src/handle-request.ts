/**
 * `handleRequest()`: serve exactly one request.
 *
 * @module
 */

import { requestRunner, verifyRequest } from './request-runner.js'
import { checkHandleRequestOptions, type HandleRequestOptions } from './serve-options.js'
import type { Handler, Request, Server } from './types.js'

/**
 * Waits for one request and serves it with `handler`, through the same hooks
 * as `serve()`. Python counterpart: `handle_request()` with `timeout` and
 * `handle_timeout()`.
 *
 * If no request arrives within `waitTimeoutMs`, `handleTimeout()` runs and
 * its return value is returned (as Python's does). A request that
 * `verifyRequest` rejects is closed and counts as the one request.
 *
 * Abort behaviour: aborting `options.signal` while waiting rejects with
 * `signal.reason`; no request is taken from the server, so none is lost.
 * Once a request is being served, the signal no longer applies to it: use
 * `timeoutMs` to bound the handler.
 *
 * @param server - A listening server.
 * @param handler - A handler class or function.
 * @param options - `waitTimeoutMs`, `handleTimeout`, `timeoutMs`, hooks, `signal`.
 * @returns `handleTimeout()`'s value after a timeout, otherwise undefined.
 * @throws InvalidOptionError for bad options; `signal.reason` when aborted.
 * @example
 * ```ts
 * const server = await TCPServer.listen({ port: 0 })
 * const result = await handleRequest(server, EchoHandler, { waitTimeoutMs: 1_000, handleTimeout: () => 'TIMEOUT' })
 * ```
 */
export async function handleRequest<R extends Request>(
  server: Server<R>,
  handler: Handler<R>,
  options: HandleRequestOptions<R> = {},
): Promise<unknown> {
  checkHandleRequestOptions(options)
  const run = requestRunner(handler, options)
  const { signal, waitTimeoutMs } = options
  signal?.throwIfAborted()
  const iterator = server[Symbol.asyncIterator]()
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const stopWaiting = new Promise<'timeout' | 'abort'>((resolve) => {
    if (waitTimeoutMs !== undefined) timer = setTimeout(() => resolve('timeout'), waitTimeoutMs)
    onAbort = () => resolve('abort')
    signal?.addEventListener('abort', onAbort)
  })
  let result: IteratorResult<R, undefined> | 'timeout' | 'abort'
  try {
    result = await Promise.race([iterator.next(), stopWaiting])
  } finally {
    clearTimeout(timer)
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
  }
  if (result === 'timeout' || result === 'abort') {
    // Withdraws the pending pull, so a connection arriving later stays queued.
    await iterator.return?.()
    if (result === 'abort') throw signal?.reason
    return options.handleTimeout?.()
  }
  if (result.done === true) return undefined
  const request = result.value
  if (await verifyRequest(options, request)) await run(request)
  return undefined
}
