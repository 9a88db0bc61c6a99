/**
 * Every private shortcut left in the core: the symbol- and identity-keyed
 * links between our own requests, the request runner and `serve()`'s
 * drain, each with the figure that keeps it. Everything else goes through
 * the public contract (`types.ts`), so a server, request or policy of
 * another library meets none of these: it gets the same semantics through
 * public members, at the cost measured here.
 *
 * How each was measured: `pnpm bench --runs 3 --seconds 2 --only "ping-pong
 * 64 B x 64"` (TCP, Unix stream, UDP and Unix datagram ping-pong, 64
 * connections), the shortcut turned off by a temporary switch in two runs
 * interleaved with two runs with it on, on the same machine (2 CPUs,
 * Node 20), 2026-12-01. Ratios are to raw Node in the same run; rounds of
 * one build differ by up to about 0.05 (0.1 at worst, on the datagram
 * cases), which is the noise every figure below is read against. A
 * shortcut that did not pay more than that was removed:
 *
 * - the running requests' slots: `serve()`'s set of running requests kept
 *   each of our requests' place on its abort state, to leave without a hash
 *   lookup; a plain `Set` measured the same (UDP 0.92 and Unix datagrams
 *   0.92-0.93 x raw with the `Set`, 0.94-0.95 and 0.90-0.91 with the
 *   slots; idle memory 4.04-4.36 KB against 4.25-4.31);
 * - a symbol-keyed property on each socket for its reader: a `WeakMap`
 *   measured the same (see `servers/socket-listeners.ts`).
 *
 * One other symbol exists, and it is no shortcut: `errors.ts` brands every
 * error with `Symbol.for('socketserver.error.brand')` so that `instanceof`
 * holds across two installed copies. It stays there, because the errors
 * module imports nothing at run time.
 *
 * @module
 * @internal
 */

/**
 * The key under which our requests expose their `AbortState`
 * (`internal/abort-state.ts`). The request runner finds a request's abort
 * through it and is told by a plain hook, instead of creating the
 * request's `AbortSignal` and adding a listener to it per request (the path
 * a request of another library takes: its public `signal`).
 *
 * Measured: UDP 0.91-0.95 x raw Node with it, 0.51-0.52 without; Unix
 * datagrams 0.90-0.92 with, 0.49-0.52 without; idle memory per TCP
 * connection 4.25-4.31 KB with, 6.63-6.80 KB without; TCP and Unix stream
 * the same within noise (0.99-1.10).
 */
export const ABORT_STATE: unique symbol = Symbol('socketserver.abortState')

/**
 * What `close()` of a request with nothing to close (a datagram) returns.
 * The request runner recognises this very promise and ends the request at
 * once instead of a promise turn later.
 *
 * Measured: UDP 0.88-0.91 x raw with it, 0.85-0.86 without; Unix
 * datagrams 0.90-0.91 with, 0.86-0.89 without; stream connections do not
 * use it.
 */
export const NOTHING_TO_CLOSE: Promise<void> = Promise.resolve()
