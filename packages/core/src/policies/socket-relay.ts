/**
 * The way a connection whose bytes this process must transform (a TLS
 * session lives here) reaches a `forked()` child: a Unix socket pair
 * between this process and the child, with this process moving the bytes.
 *
 * @module
 * @internal
 */

import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The bytes that name which connection a relay socket is for. */
const TOKEN_BYTES = 4

/** One connection relayed to a child. */
export interface RelayedConnection {
  /** The end handed to the child: a plain socket with a descriptor of its own. */
  readonly childEnd: net.Socket
  /** Starts moving bytes both ways; called once `childEnd` has left this process. */
  start(): void
  /** Whether `start()` was called. */
  readonly started: boolean
  /**
   * Settles once everything the child wrote was written to the connection
   * (the child ended its side, or its side closed), so that closing the
   * connection afterwards sends all of it.
   */
  readonly finished: Promise<void>
  /** Ends the relay at once (the request failed before the child had it). */
  destroy(): void
}

/**
 * A private listening Unix socket (in a directory only this user can
 * enter) that makes connected socket pairs: Node has no `socketpair()`.
 * Each pair costs one local connect and accept; the connecting end writes
 * a token first so that the accepted end is matched to it whatever order
 * the accepts come in.
 */
export class SocketRelay {
  #directory: string | undefined
  #listening: Promise<net.Server> | undefined
  #nextToken = 0
  readonly #waiting = new Map<number, (accepted: net.Socket) => void>()

  /** Makes a pair and returns the relay of `connection` over it; nothing moves until `start()`. */
  async open(connection: net.Socket): Promise<RelayedConnection> {
    if (this.#listening === undefined) {
      // A listener that could not start is tried again on the next relay.
      this.#listening = this.#listen()
      this.#listening.catch(() => {
        this.#listening = undefined
      })
    }
    const listener = await this.#listening
    this.#nextToken = (this.#nextToken + 1) >>> 0
    const token = this.#nextToken
    const parentEnd = net.connect({ path: listener.address() as string, allowHalfOpen: true })
    parentEnd.pause()
    const childEnd = await new Promise<net.Socket>((resolve, reject) => {
      const failed = (error: Error): void => {
        this.#waiting.delete(token)
        reject(new Error(`Cannot relay the connection to a child process: ${error.message}`, { cause: error }))
      }
      parentEnd.once('error', failed)
      this.#waiting.set(token, (accepted) => {
        parentEnd.off('error', failed)
        resolve(accepted)
      })
      const named = Buffer.allocUnsafe(TOKEN_BYTES)
      named.writeUInt32BE(token)
      parentEnd.write(named)
    })
    return relayOver(connection, parentEnd, childEnd)
  }

  /** Stops listening and removes the directory; open relays go on. */
  async close(): Promise<void> {
    const listening = this.#listening
    this.#listening = undefined
    // Not waiting for 'close': a server whose sockets were sent to a child
    // asks that child for their count before it emits it, and the children
    // are gone by now. The descriptor itself is closed at once.
    ;(await listening?.catch(() => undefined))?.close()
    if (this.#directory !== undefined) rmSync(this.#directory, { recursive: true, force: true })
    this.#directory = undefined
  }

  #listen(): Promise<net.Server> {
    this.#directory = mkdtempSync(join(tmpdir(), 'socketserver-relay-'))
    const path = join(this.#directory, 'relay.sock')
    const listener = net.createServer({ pauseOnConnect: true }, (accepted) => this.#match(accepted))
    return new Promise((resolve, reject) => {
      listener.once('error', reject)
      listener.listen(path, () => {
        listener.off('error', reject)
        resolve(listener)
      })
    })
  }

  /** Reads an accepted socket's token and hands it to the relay that wrote it. */
  #match(accepted: net.Socket): void {
    accepted.on('error', () => accepted.destroy())
    const readToken = (): void => {
      const named = accepted.read(TOKEN_BYTES) as Buffer | null
      if (named === null) return
      accepted.off('readable', readToken)
      const token = named.readUInt32BE(0)
      const deliver = this.#waiting.get(token)
      if (deliver === undefined) {
        accepted.destroy()
        return
      }
      this.#waiting.delete(token)
      accepted.removeAllListeners('error')
      deliver(accepted)
    }
    accepted.on('readable', readToken)
  }
}

/**
 * Moves bytes between `connection` and the child: the client's to the
 * child (its end reaches the child as an end), the child's to the client
 * (its end only settles `finished`: closing the connection is the
 * request's). Either side closing ends the other.
 */
function relayOver(connection: net.Socket, parentEnd: net.Socket, childEnd: net.Socket): RelayedConnection {
  let settle!: () => void
  const finished = new Promise<void>((resolve) => {
    settle = resolve
  })
  parentEnd.once('end', settle)
  parentEnd.once('close', settle)
  // The child's side failing (the child died) is the child's failure,
  // reported from its exit; here it only ends the relay.
  parentEnd.on('error', () => parentEnd.destroy())
  const destroy = (): void => {
    parentEnd.destroy()
    childEnd.destroy()
  }
  let started = false
  return {
    childEnd,
    finished,
    destroy,
    get started() {
      return started
    },
    start() {
      started = true
      if (connection.destroyed) {
        parentEnd.destroy()
        return
      }
      connection.once('close', () => parentEnd.destroy())
      connection.pipe(parentEnd)
      parentEnd.pipe(connection, { end: false })
      parentEnd.resume()
    },
  }
}
