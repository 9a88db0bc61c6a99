/**
 * Corked writes leave as one buffer: small replies batched by a cork (as
 * `wfile` and `sink()` batch a turn's writes) are copied into one buffer and
 * written with one `write()` instead of a `writev()` of every piece.
 *
 * @module
 * @internal
 */

import { Socket } from 'node:net'

/**
 * The most bytes joined into one buffer. Beyond it the pieces go out as
 * Node writes them (one `writev()`): copying them would cost more than the
 * per-piece bookkeeping it saves.
 */
const MAX_JOINED_BYTES = 64 * 1024

/** A write Node's Writable buffered while the socket was corked. */
interface BufferedWrite {
  readonly chunk: Uint8Array | string
  readonly encoding: BufferEncoding | 'buffer'
}

type WritevCallback = (error?: Error | null) => void

interface WritableInternals {
  _writev(chunks: BufferedWrite[], callback: WritevCallback): void
  _write(chunk: Uint8Array, encoding: string, callback: WritevCallback): void
}

/**
 * Makes `socket` join small corked writes (see the module). The socket's
 * own `_writev` stays in use for large batches. One shared function set on
 * the socket: no closure per connection.
 *
 * Figures (`pnpm bench --quick --runs 3`, TCP pipelined, 50 connections,
 * 16 in flight: batches of 16 replies of 64 bytes; two runs each way,
 * interleaved): `readline()` + `await write()` 789-809 K to 1.04-1.05 M
 * requests/s (0.45-0.47 to 0.53-0.55 x raw Node), `readExactly()` +
 * `await write()` 777-854 K to 907-978 K, the README's `lines()` loop
 * 681-685 K to 890-908 K. In profiles before, writev of the pieces and
 * its per-piece bookkeeping were the largest cost after the syscall.
 */
export function joinCorkedWrites(socket: Socket): void {
  ;(socket as unknown as WritableInternals)._writev = writevJoined
}

const { _writev: nativeWritev } = Socket.prototype as unknown as WritableInternals

/**
 * String encodings whose `Buffer.byteLength()` is exact, so that the joined
 * buffer is filled to its end. (For base64 and hex it is an estimate that
 * can exceed what is written: the rest of the buffer would be sent
 * uninitialised.) A batch with another encoding goes out as Node writes it.
 */
const EXACT_ENCODINGS = new Set(['utf8', 'utf-8', 'latin1', 'binary', 'ascii', 'utf16le', 'ucs2', 'ucs-2'])

function writevJoined(this: Socket, chunks: BufferedWrite[], callback: WritevCallback): void {
  let bytes = 0
  for (let i = 0; i < chunks.length; i++) {
    const { chunk, encoding } = chunks[i] as BufferedWrite
    const exact = typeof chunk !== 'string' || EXACT_ENCODINGS.has(encoding)
    if (exact) bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding as BufferEncoding) : chunk.byteLength
    if (!exact || bytes > MAX_JOINED_BYTES) {
      nativeWritev.call(this, chunks, callback)
      return
    }
  }
  const joined = Buffer.allocUnsafe(bytes)
  let at = 0
  for (let i = 0; i < chunks.length; i++) {
    const { chunk, encoding } = chunks[i] as BufferedWrite
    if (typeof chunk === 'string') at += joined.write(chunk, at, encoding as BufferEncoding)
    else {
      joined.set(chunk, at)
      at += chunk.byteLength
    }
  }
  // Exact by construction; never send bytes that were not written.
  ;(this as unknown as WritableInternals)._write(at === bytes ? joined : joined.subarray(0, at), 'buffer', callback)
}
