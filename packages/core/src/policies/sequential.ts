/**
 * One request at a time.
 *
 * @module
 */

import type { Policy } from '../types.js'

/**
 * Serves requests one at a time, in the order they were accepted: the next
 * request is pulled from the server only after the current one finished, so
 * later clients wait in the kernel backlog. Python counterpart: a plain
 * `TCPServer` / `UDPServer` without a mix-in.
 *
 * Unlike Python's synchronous server, one idle client cannot freeze it
 * forever when `serve()` is given a `timeoutMs`.
 *
 * @returns A policy: `sequential()(run)` is an it-pipe transform from
 *   requests to outcomes.
 * @example
 * ```ts
 * import { pipe } from 'it-pipe'
 * await serve(server, handler, { policy: sequential(), signal })
 * // or, by hand:
 * await pipe(server, sequential()(serveOne), async (outcomes) => { for await (const _ of outcomes); })
 * ```
 */
export function sequential(): Policy {
  return (run) => (source) =>
    (async function* () {
      for await (const request of source) yield await run(request)
    })()
}
