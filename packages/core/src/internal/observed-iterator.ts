/**
 * A request iterator whose results someone watches.
 *
 * @module
 * @internal
 */

import type { RequestIterator } from '../types.js'

/**
 * `inner`, with `seen` told of every result it hands out (through `next()`,
 * `takeLater()`, or a request `takeNow()` returned) before the taker gets
 * it. The batch pulls stay where `inner` has them. Used to notice the end
 * of a server's requests (`serve()`) and to take more once a request was
 * taken (`WrappingServer`).
 */
export function observedIterator<R>(inner: RequestIterator<R>, seen: (result: IteratorResult<R, undefined>) => void): RequestIterator<R> {
  const pass = (result: IteratorResult<R, undefined>): IteratorResult<R, undefined> => {
    seen(result)
    return result
  }
  const { takeNow, takeLater } = inner
  return {
    next: () => inner.next().then(pass),
    return:
      inner.return === undefined
        ? undefined
        : (value?: unknown) => (inner.return as (value?: unknown) => Promise<IteratorResult<R>>)(value),
    takeNow:
      takeNow === undefined
        ? undefined
        : () => {
            const request = takeNow.call(inner)
            if (request !== undefined) seen({ done: false, value: request })
            return request
          },
    takeLater: takeLater === undefined ? undefined : (deliver, room) => takeLater.call(inner, (result) => deliver(pass(result)), room),
  }
}
