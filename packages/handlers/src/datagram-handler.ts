/**
 * Class-based handlers for datagrams.
 *
 * @module
 */

import type { DatagramRequest } from '@socketserver/core'
import { BaseRequestHandler } from './base-handler.js'
import { BufferedReader } from './buffered-reader.js'
import { ReplyBuffer } from './reply-buffer.js'

/**
 * A handler for datagrams: `packet` is the datagram, `rfile` reads it,
 * `wfile` collects the reply, which `finish()` sends as one datagram from
 * the server's own address to the client. Python counterpart:
 * `socketserver.DatagramRequestHandler`.
 *
 * Two defaults differ from Python's, on purpose:
 * - Nothing is sent when the handler wrote nothing. Python always replies,
 *   with an empty datagram if need be, which makes every server a reflector
 *   for spoofed sources.
 * - Nothing is sent when `handle()` threw. Python sends whatever was written
 *   before the error; a reply cut short by a failure is one the client may
 *   misread, while a missing one looks like a lost datagram, which datagram
 *   clients already handle.
 *
 * @example
 * ```ts
 * class Upper extends DatagramRequestHandler {
 *   override async handle() {
 *     await this.wfile.write(Buffer.from(this.packet).toString().toUpperCase())
 *   }
 * }
 * ```
 */
export class DatagramRequestHandler extends BaseRequestHandler<DatagramRequest> {
  /** The datagram received. */
  packet!: Uint8Array
  /** A reader over `packet`. */
  rfile!: BufferedReader
  /** Collects the reply. */
  wfile!: ReplyBuffer

  /** Sets up `packet`, `rfile` and `wfile`. */
  override async setup(): Promise<void> {
    this.packet = this.request.data
    this.rfile = BufferedReader.from(this.packet)
    this.wfile = new ReplyBuffer()
  }

  /**
   * Sends what `wfile` collected, if anything, unless `handle()` threw.
   *
   * @throws DatagramTooLargeError or ReplyError from `request.reply()`.
   */
  override async finish(): Promise<void> {
    if (this.handleFailed || this.wfile === undefined || this.wfile.length === 0) return
    await this.request.reply(this.wfile.bytes)
  }
}
