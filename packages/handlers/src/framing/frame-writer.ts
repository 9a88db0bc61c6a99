/**
 * Writes frames through an encoder to a handler's writer.
 *
 * @module
 */

/** A frame to encode: bytes, or text (written as UTF-8). */
export type Frame = Uint8Array | string

/**
 * Turns frames into bytes: {@link LineEncoder} and
 * {@link LengthPrefixedEncoder} are the two this package has.
 */
export interface FrameEncoder {
  /**
   * Encodes one frame into a new Buffer.
   *
   * @param frame - The frame.
   * @returns Its bytes on the wire.
   */
  encode(frame: Frame): Buffer
  /**
   * Encodes frames into one new Buffer, as one write.
   *
   * @param frames - The frames, in order.
   * @returns Their bytes on the wire, one after another.
   */
  encodeBatch(frames: readonly Frame[]): Buffer
}

/**
 * Where a {@link FrameWriter} writes: a handler's `wfile` (a
 * `BufferedWriter`), a datagram handler's `ReplyBuffer`, or anything with
 * such a `write()`.
 */
export interface ByteWriter {
  /**
   * Writes the bytes.
   *
   * @param bytes - The bytes, not to be changed by the writer.
   * @returns The number of bytes written.
   */
  write(bytes: Uint8Array): Promise<number>
}

/**
 * Writes encoded frames to a handler's writer: each `write()` encodes one
 * frame (adds its prefix, or its newline) and writes it in one piece; each
 * `writeBatch()` writes many frames as one. Over `wfile`, replies written
 * in one turn of the event loop leave in one system call anyway (it corks
 * the socket for the turn); a batch saves the per-write promises too.
 * Python counterpart: `wfile.write()` of an encoded frame.
 *
 * Abort behaviour: as the target's `write()`: over `wfile`, once the
 * connection is destroyed (the request aborted, the client reset), pending
 * and later writes reject with the socket's error; a frame is written whole
 * or not at all by this writer, but bytes the kernel has not taken yet are
 * lost with the connection.
 *
 * @example
 * ```ts
 * class Echo extends StreamRequestHandler {
 *   override async handle() {
 *     const out = new FrameWriter(this.wfile, new LengthPrefixedEncoder({ prefix: 'uint32be' }))
 *     for await (const frame of lengthPrefixedFrames(this.rfile, { prefix: 'uint32be' })) await out.write(frame)
 *   }
 * }
 * ```
 */
export class FrameWriter {
  readonly #target: ByteWriter
  readonly #encoder: FrameEncoder

  /**
   * @param target - Where to write (`wfile`).
   * @param encoder - How to encode each frame.
   */
  constructor(target: ByteWriter, encoder: FrameEncoder) {
    this.#target = target
    this.#encoder = encoder
  }

  /**
   * Encodes and writes one frame.
   *
   * @param frame - Bytes or text.
   * @returns The bytes written, prefix or newline included.
   * @throws What the encoder throws (FrameTooLargeError,
   *   MalformedFrameError), as a rejection, before anything is written;
   *   the target's write errors.
   */
  write(frame: Frame): Promise<number> {
    let bytes: Buffer
    try {
      bytes = this.#encoder.encode(frame)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.#target.write(bytes)
  }

  /**
   * Encodes frames and writes them as one.
   *
   * @param frames - The frames, in order.
   * @returns The bytes written.
   * @throws What the encoder throws, as a rejection, before any frame of
   *   the batch is written; the target's write errors.
   */
  writeBatch(frames: readonly Frame[]): Promise<number> {
    let bytes: Buffer
    try {
      bytes = this.#encoder.encodeBatch(frames)
    } catch (error) {
      return Promise.reject(error)
    }
    return bytes.length === 0 ? Promise.resolve(0) : this.#target.write(bytes)
  }
}

/**
 * Whether a pipe item is a batch of frames rather than one.
 *
 * @internal
 */
export function isBatch(item: Frame | readonly Frame[]): item is readonly Frame[] {
  return Array.isArray(item)
}
