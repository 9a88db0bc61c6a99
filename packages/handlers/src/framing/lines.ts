/**
 * Lines from a byte source, as async iterables: one line at a time, or
 * every line a chunk completed at once.
 *
 * @module
 */

import type { AbortOptions } from '@socketserver/core'
import type { Source } from 'it-stream-types'
import { decodeBatches, decodeEach } from './decode-source.js'
import { LineDecoder, type LineDecoderOptions } from './line-decoder.js'

/** Options of {@link lines}, {@link lineBatches} and {@link decodeLines}. */
export interface DecodeLinesOptions extends LineDecoderOptions, AbortOptions {}

/**
 * Yields the lines of a byte stream, each with its `\n` (a last line
 * without one at the end of the stream is yielded as it is), as
 * `BufferedReader.readline()` returns them: a line within one chunk is a
 * view of it, one that spans chunks is copied once. Lines already received
 * are yielded without waiting for the network, though each costs one
 * promise turn; {@link lineBatches} takes them all at once. Python
 * counterpart: `for line in self.rfile`, with a limit Python lacks.
 *
 * Abort behaviour: the iteration rejects with the source's error when it
 * fails (`request.source` fails when its request aborts or the connection
 * resets), or with `signal.reason` once `options.signal` aborted: the
 * signal is checked before the first read and as each chunk arrives, not
 * during a wait for one (the source ends that wait). Lines yielded stay
 * valid. Leaving the loop early returns the source's iterator: the lines
 * of the current chunk not yet yielded, and a line not yet ended, are
 * dropped.
 *
 * @param source - The bytes: `request.source`, a handler's `rfile` (which
 *   yields what it buffered first), or any iterable of chunks.
 * @param options - `maxLength` (default 64 KiB, newline included), `tooLong`
 *   (`'throw'` or `'skip'`), `signal`.
 * @returns The lines, as Buffers.
 * @throws InvalidOptionError, at once, for a bad `maxLength` or `tooLong`.
 *   The iteration throws LineTooLongError (after the lines before it) for
 *   a line longer than `maxLength` unless `tooLong` is `'skip'`.
 * @example
 * ```ts
 * for await (const line of lines(request.source, { maxLength: 1024 })) {
 *   await writer.write(trimLineEnd(line).toString().toUpperCase() + '\n')
 * }
 * ```
 */
export function lines(source: Source<Uint8Array>, options: DecodeLinesOptions = {}): AsyncGenerator<Buffer, void, undefined> {
  return decodeEach(source, new LineDecoder(options), options.signal)
}

/**
 * Yields, for each chunk of a byte stream that completes lines, all of
 * them in one array: a handler can answer every pipelined request it holds
 * synchronously and write the replies once, with one promise turn per chunk
 * instead of one per line. Lines are as {@link lines} yields them (`\n`
 * included; views of the chunk when they lie within it); no array is
 * empty.
 *
 * Abort behaviour: as for {@link lines}; leaving early drops the lines of
 * the batches not taken and a line not yet ended.
 *
 * @param source - The bytes, as for {@link lines}.
 * @param options - `maxLength`, `tooLong`, `signal`.
 * @returns The batches of lines.
 * @throws InvalidOptionError, at once, for a bad option. The iteration
 *   throws LineTooLongError unless `tooLong` is `'skip'`, after a batch of
 *   the lines before the over-long one.
 * @example
 * ```ts
 * const encoder = new LineEncoder()
 * for await (const batch of lineBatches(request.source)) {
 *   await wfile.write(encoder.encodeBatch(batch.map((line) => answer(trimLineEnd(line)))))
 * }
 * ```
 */
export function lineBatches(source: Source<Uint8Array>, options: DecodeLinesOptions = {}): AsyncGenerator<Buffer[], void, undefined> {
  return decodeBatches(source, new LineDecoder(options), options.signal)
}

/**
 * An it-pipe stage that splits bytes into lines: {@link lines} with its
 * options bound. The options are checked now, so a bad one fails before
 * anything is piped.
 *
 * Abort behaviour: as for {@link lines}.
 *
 * @param options - `maxLength`, `tooLong`, `signal`.
 * @returns A transform from chunks to lines (`\n` included).
 * @throws InvalidOptionError for a bad option.
 * @example
 * ```ts
 * await pipe(request, decodeLines({ maxLength: 1024 }), async function* (source) {
 *   for await (const line of source) yield line.toString().toUpperCase()
 * }, encodeLines(), request)
 * ```
 */
export function decodeLines(options: DecodeLinesOptions = {}): (source: Source<Uint8Array>) => AsyncGenerator<Buffer, void, undefined> {
  new LineDecoder(options) // checks the options now
  return (source) => lines(source, options)
}

/**
 * A line without its line ending: the `\n` and a `\r` before it, when
 * there. No copy.
 *
 * @param line - A line, as the decoders give it.
 * @returns A view of the line's bytes before its ending.
 * @example
 * ```ts
 * trimLineEnd(Buffer.from('GET /\r\n')).toString() // 'GET /'
 * ```
 */
export function trimLineEnd(line: Uint8Array): Buffer {
  let end = line.length
  if (end > 0 && line[end - 1] === 0x0a) {
    end--
    if (end > 0 && line[end - 1] === 0x0d) end--
  }
  return Buffer.from(line.buffer, line.byteOffset, end)
}
