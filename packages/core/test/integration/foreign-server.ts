// A server of "another library", written in the tests from the public
// Server contract only, around one of ours: it forwards the required
// members, and the optional ones only when asked to.
import type { Request, Server } from '@socketserver/core'

/** Which optional members the wrapper forwards. */
export interface Forwarded {
  stopAccepting?: boolean
  observe?: boolean
}

export function foreignServer<R extends Request>(inner: Server<R>, forwarded: Forwarded = {}): Server<R> {
  const wrapper: Server<R> = {
    get address() {
      return inner.address
    },
    get closed() {
      return inner.closed
    },
    fileno: () => inner.fileno(),
    close: () => inner.close(),
    [Symbol.asyncIterator]: () => inner[Symbol.asyncIterator](),
    [Symbol.asyncDispose]: () => inner.close(),
  }
  if (forwarded.stopAccepting === true) wrapper.stopAccepting = () => inner.stopAccepting?.()
  if (forwarded.observe === true) wrapper.observe = (observer) => inner.observe?.(observer) ?? (() => {})
  return wrapper
}
