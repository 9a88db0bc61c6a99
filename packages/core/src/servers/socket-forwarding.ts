/**
 * Forwarding what a socket receives into a writable socket, as `sink()`
 * does with a connection's own unread `source`.
 *
 * @module
 * @internal
 */

import type { Socket } from 'node:net'
import { closedError, endWritingThen } from './socket-writing.js'

/** What a forwarding tells the reader it forwards for. */
export interface ForwardingOwner {
  /** The target can no longer take chunks: the forwarding fails with `error`. */
  forwardingFailed(error: Error): void
  /** The target drained and the source resumed. */
  forwardingDrained(): void
}

/**
 * Writes the chunks of `source` to `target` (the same socket for an echo,
 * or another connection's) as they arrive: the source pauses while the
 * target's buffer is full and resumes on its `drain`. A target other than
 * the source that closes, or can no longer write, fails the forwarding
 * (`forwardingFailed`): a write to it would be dropped.
 */
export class SocketForwarding {
  readonly target: Socket
  readonly #source: Socket
  readonly #owner: ForwardingOwner

  /**
   * @param source - The socket read from.
   * @param target - The socket written to.
   * @param owner - Told when the target fails or drains (an object, not
   *   two callbacks: no closures per forwarding connection).
   */
  constructor(source: Socket, target: Socket, owner: ForwardingOwner) {
    this.#source = source
    this.target = target
    this.#owner = owner
  }

  /**
   * Watches a target other than the source for its close.
   *
   * @returns false when it cannot write already (and `failed` was told).
   */
  start(): boolean {
    const target = this.target
    if (target === this.#source) return true
    // Another connection's socket, closed or ended already: its 'close'
    // will not come (again), and writes to it fail.
    if (!target.writable) {
      this.#fail()
      return false
    }
    target.once('close', () => this.#fail())
    return true
  }

  /** Writes one chunk, pausing the source while the target's buffer is full. */
  forward(chunk: Uint8Array): void {
    const target = this.target
    // A target that can no longer write (ended or destroyed by someone
    // else) fails the forwarding now: a write to it would be dropped.
    if (!target.writable) {
      this.#fail()
      return
    }
    if (target.write(chunk)) return
    // Another connection's socket that can no longer write sends no 'drain'
    // (and its 'close' may have passed): fail now. Our own socket's failure
    // reaches the reader through its 'error' and 'close'.
    if (target !== this.#source && !target.writable) {
      this.#fail()
      return
    }
    const source = this.#source
    source.pause()
    target.once('drain', () => {
      source.resume()
      this.#owner.forwardingDrained()
    })
  }

  /** The source ended: ends the target's write side; `done` once it has finished (or failed). */
  finish(done: (error?: Error) => void): void {
    endWritingThen(this.target, done)
  }

  #fail(): void {
    this.#owner.forwardingFailed(closedError(this.target.errored ?? undefined))
  }
}
