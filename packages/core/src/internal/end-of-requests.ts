/**
 * Noticing the end of a server's requests, for a server that cannot say
 * when it closed.
 *
 * @module
 * @internal
 */

import type { RequestIterator } from '../types.js'

/**
 * `source`, with `ended` called when its iteration ends: how `serve()`
 * learns that a server without `observe()` was closed by other means. The
 * batch pulls (`takeNow`, `takeLater`) are passed through.
 */
export function withEndNotice<R>(source: AsyncIterable<R>, ended: () => void): AsyncIterable<R> {
  return {
    [Symbol.asyncIterator](): RequestIterator<R> {
      const inner: RequestIterator<R> = source[Symbol.asyncIterator]()
      const seen = (result: IteratorResult<R, undefined>): IteratorResult<R, undefined> => {
        if (result.done === true) ended()
        return result
      }
      const takeLater = inner.takeLater
      return {
        next: () => inner.next().then(seen),
        return:
          inner.return === undefined
            ? undefined
            : (value?: unknown) => (inner.return as (value?: unknown) => Promise<IteratorResult<R>>)(value),
        takeNow: inner.takeNow?.bind(inner),
        takeLater: takeLater === undefined ? undefined : (deliver) => takeLater.call(inner, (result) => deliver(seen(result))),
      }
    },
  }
}
