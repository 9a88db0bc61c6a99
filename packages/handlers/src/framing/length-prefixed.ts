/**
 * Length-prefixed frames from a byte source, as async iterables: one frame
 * at a time, or every frame a chunk completed at once.
 *
 * @module
 */

import type { AbortOptions } from '@socketserver/core'
import type { Source } from 'it-stream-types'
import { decodeBatches, decodeEach } from './decode-source.js'
import type { LengthPrefixedOptions } from './length-prefix.js'
import { LengthPrefixedDecoder } from './length-prefixed-decoder.js'

/** Options of {@link lengthPrefixedFrames}, {@link lengthPrefixedBatches} and {@link decodeLengthPrefixed}. */
export interface DecodeLengthPrefixedOptions extends LengthPrefixedOptions, AbortOptions {}

/**
 * Yields the length-prefixed frames of a byte stream (a varint prefix by
 * default, read as `it-length-prefixed` writes it; or `'uint8'`,
 * `'uint16be'`, `'uint32be'`). A frame within one chunk is a view of it,
 * one that spans chunks is copied once; frames already received are
 * yielded without waiting for the network, though each costs one promise
 * turn ({@link lengthPrefixedBatches} takes them all at once). A prefix that
 * announces more than `maxFrameSize` is refused before any of the frame is
 * buffered. Python counterpart: none in socketserver; the
 * `struct.unpack('!I', rfile.read(4))` then `rfile.read(n)` idiom.
 *
 * Abort behaviour: the iteration rejects with the source's error when it
 * fails (`request.source` fails when its request aborts or the connection
 * resets), or with `signal.reason` once `options.signal` aborted: the
 * signal is checked before the first read and as each chunk arrives, not
 * during a wait for one (the source ends that wait). Frames yielded stay
 * valid. Leaving the loop early returns the source's iterator: the frames
 * of the current chunk not yet yielded, and an unfinished frame, are
 * dropped.
 *
 * @param source - The bytes: `request.source`, a handler's `rfile` (which
 *   yields what it buffered first), or any iterable of chunks.
 * @param options - `prefix` (default `'varint'`), `maxFrameSize` (default
 *   4 MiB), `signal`.
 * @returns The frames, as Buffers (prefixes removed).
 * @throws InvalidOptionError, at once, for a bad option. The iteration
 *   throws, after the frames before the bad one: FrameTooLargeError for a
 *   prefix over `maxFrameSize`; MalformedFrameError for a bad varint;
 *   IncompleteFrameError when the stream ends inside a prefix or a frame.
 * @example
 * ```ts
 * const out = new FrameWriter(writer, new LengthPrefixedEncoder({ prefix: 'uint32be' }))
 * for await (const frame of lengthPrefixedFrames(request.source, { prefix: 'uint32be', maxFrameSize: 65_536 })) {
 *   await out.write(frame)
 * }
 * ```
 */
export function lengthPrefixedFrames(
  source: Source<Uint8Array>,
  options: DecodeLengthPrefixedOptions = {},
): AsyncGenerator<Buffer, void, undefined> {
  return decodeEach(source, new LengthPrefixedDecoder(options), options.signal)
}

/**
 * Yields, for each chunk of a byte stream that completes frames, all of
 * them in one array: a handler can answer every pipelined request it holds
 * synchronously and write the replies once, with one promise turn per chunk
 * instead of one per frame. Frames are as {@link lengthPrefixedFrames}
 * yields them; no array is empty.
 *
 * Abort behaviour: as for {@link lengthPrefixedFrames}; leaving early drops
 * the frames of the batches not taken and an unfinished frame.
 *
 * @param source - The bytes, as for {@link lengthPrefixedFrames}.
 * @param options - `prefix`, `maxFrameSize`, `signal`.
 * @returns The batches of frames.
 * @throws InvalidOptionError, at once, for a bad option. The iteration
 *   throws as {@link lengthPrefixedFrames} does, after a batch of the frames
 *   before the bad one.
 * @example
 * ```ts
 * const out = new FrameWriter(this.wfile, new LengthPrefixedEncoder())
 * for await (const batch of lengthPrefixedBatches(this.rfile)) await out.writeBatch(batch.map(answer))
 * ```
 */
export function lengthPrefixedBatches(
  source: Source<Uint8Array>,
  options: DecodeLengthPrefixedOptions = {},
): AsyncGenerator<Buffer[], void, undefined> {
  return decodeBatches(source, new LengthPrefixedDecoder(options), options.signal)
}

/**
 * An it-pipe stage that splits bytes into length-prefixed frames:
 * {@link lengthPrefixedFrames} with its options bound. The options are
 * checked now, so a bad one fails before anything is piped.
 *
 * Abort behaviour: as for {@link lengthPrefixedFrames}.
 *
 * @param options - `prefix`, `maxFrameSize`, `signal`.
 * @returns A transform from chunks to frames.
 * @throws InvalidOptionError for a bad option.
 * @example
 * ```ts
 * await pipe(request, decodeLengthPrefixed({ prefix: 'uint16be' }), async function* (frames) {
 *   for await (const frame of frames) yield Buffer.from(frame.toString().toUpperCase())
 * }, encodeLengthPrefixed({ prefix: 'uint16be' }), request)
 * ```
 */
export function decodeLengthPrefixed(
  options: DecodeLengthPrefixedOptions = {},
): (source: Source<Uint8Array>) => AsyncGenerator<Buffer, void, undefined> {
  new LengthPrefixedDecoder(options) // checks the options now
  return (source) => lengthPrefixedFrames(source, options)
}
