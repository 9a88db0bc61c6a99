/**
 * What `close()` returns for a request with nothing to close (a datagram).
 * The request runner recognises this very promise and ends the request at
 * once instead of a promise turn later.
 *
 * @module
 * @internal
 */

export const NOTHING_TO_CLOSE: Promise<void> = Promise.resolve()
