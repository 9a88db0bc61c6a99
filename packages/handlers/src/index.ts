/**
 * Request handlers for `@socketserver/core`: the class-based hooks of
 * Python's socketserver (`BaseRequestHandler`, `StreamRequestHandler`,
 * `DatagramRequestHandler`) with a buffered reader and a backpressure-aware
 * writer, plain-function helpers for line protocols and it-pipe duplex
 * handlers, and framing: lines and length-prefixed frames (varint, as
 * `it-length-prefixed`, or fixed 1/2/4-byte big-endian) decoded from any
 * byte source, one frame or one batch at a time, and encoded back.
 *
 * @example
 * ```ts
 * import { TCPServer, serve } from '@socketserver/core'
 * import { StreamRequestHandler } from '@socketserver/handlers'
 *
 * class Echo extends StreamRequestHandler {
 *   override async handle() {
 *     for await (const line of this.rfile.lines()) await this.wfile.write(line)
 *   }
 * }
 * const server = await TCPServer.listen({ port: 0 })
 * const controller = new AbortController()
 * await serve(server, Echo, { signal: controller.signal })
 * ```
 *
 * @packageDocumentation
 */

export { BaseRequestHandler } from './base-handler.js'
export { BufferedReader, DEFAULT_MAX_LINE_LENGTH, type LinesOptions, type ReadlineOptions } from './buffered-reader.js'
export { BufferedWriter, type BufferedWriterOptions } from './buffered-writer.js'
export { DatagramRequestHandler } from './datagram-handler.js'
export { FrameTooLargeError, IncompleteFrameError, IncompleteReadError, LineTooLongError, MalformedFrameError } from './errors.js'
export { type ByteWriter, type Frame, type FrameEncoder, FrameWriter } from './framing/frame-writer.js'
export { DEFAULT_MAX_FRAME_SIZE, type LengthPrefix, type LengthPrefixedOptions } from './framing/length-prefix.js'
export {
  type DecodeLengthPrefixedOptions,
  decodeLengthPrefixed,
  lengthPrefixedBatches,
  lengthPrefixedFrames,
} from './framing/length-prefixed.js'
export { LengthPrefixedDecoder } from './framing/length-prefixed-decoder.js'
export { encodeLengthPrefixed, LengthPrefixedEncoder } from './framing/length-prefixed-encoder.js'
export { LineDecoder, type LineDecoderOptions } from './framing/line-decoder.js'
export { encodeLines, LineEncoder, type LineEncoderOptions } from './framing/line-encoder.js'
export { type DecodeLinesOptions, decodeLines, lineBatches, lines, trimLineEnd } from './framing/lines.js'
export { duplexHandler, type LineReply, lineHandler } from './function-handler.js'
export { ReplyBuffer } from './reply-buffer.js'
export { StreamRequestHandler } from './stream-handler.js'
