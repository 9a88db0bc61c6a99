/**
 * Request handlers for `@socketserver/core`: the class-based hooks of
 * Python's socketserver (`BaseRequestHandler`, `StreamRequestHandler`,
 * `DatagramRequestHandler`) with a buffered reader and a backpressure-aware
 * writer, and plain-function helpers for line protocols and it-pipe duplex
 * handlers.
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
export { IncompleteReadError, LineTooLongError } from './errors.js'
export { duplexHandler, type LineReply, lineHandler } from './function-handler.js'
export { ReplyBuffer } from './reply-buffer.js'
export { StreamRequestHandler } from './stream-handler.js'
