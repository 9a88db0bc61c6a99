/**
 * Noticing the end of a server's requests, for a server that cannot say
 * when it closed.
 *
 * @module
 * @internal
 */

import type { RequestIterator } from '../types.js'
import { observedIterator } from './observed-iterator.js'

/**
 * `source`, with `ended` called when its iteration ends: how `serve()`
 * learns that a server without `observe()` was closed by other means. The
 * batch pulls (`takeNow`, `takeLater`) are passed through.
 */
export function withEndNotice<R>(source: AsyncIterable<R>, ended: () => void): AsyncIterable<R> {
  return {
    [Symbol.asyncIterator]: (): RequestIterator<R> =>
      observedIterator(source[Symbol.asyncIterator](), (result) => {
        if (result.done === true) ended()
      }),
  }
}
