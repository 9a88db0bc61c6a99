/**
 * Collects a datagram reply.
 *
 * @module
 */

/**
 * The `wfile` of a datagram handler: collects what the handler writes, to be
 * sent as one datagram in `finish()`. Python counterpart: the `BytesIO` of
 * `DatagramRequestHandler.wfile`.
 *
 * @example
 * ```ts
 * const reply = new ReplyBuffer()
 * await reply.write('pong')
 * reply.bytes // Uint8Array of 'pong'
 * ```
 */
export class ReplyBuffer {
  #chunks: Uint8Array[] = []
  #length = 0

  /** Bytes written so far. */
  get length(): number {
    return this.#length
  }

  /** Everything written, as one array. */
  get bytes(): Uint8Array {
    if (this.#chunks.length !== 1) this.#chunks = [Buffer.concat(this.#chunks)]
    return this.#chunks[0] as Uint8Array
  }

  /**
   * Appends `data` (text is UTF-8).
   *
   * @returns The number of bytes written.
   */
  async write(data: Uint8Array | string): Promise<number> {
    // A copy, as Python's BytesIO keeps: the caller may reuse its array.
    const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)
    this.#chunks.push(bytes)
    this.#length += bytes.length
    return bytes.length
  }
}
