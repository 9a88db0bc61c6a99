/**
 * A small client for tests: connect, send, read lines or everything, half
 * close, reset.
 *
 * @module
 */

import net from 'node:net'
import { formatAddress, type SocketAddress } from '@socketserver/core'
import { registerCleanup } from '../cleanup.js'
import { DEFAULT_DEADLINE_MS } from '../events.js'

/**
 * A connected test client that buffers what it receives, so a test can read
 * by lines or by byte counts with a deadline.
 *
 * @example
 * ```ts
 * const client = await connect(server.address)
 * await client.send('hello\n')
 * expect(await client.readLine()).toBe('hello\n')
 * client.end()
 * ```
 */
export class LoopbackClient {
  /** The underlying socket. */
  readonly socket: net.Socket
  #buffer = Buffer.alloc(0)
  /** Chunks received since the buffer was last joined (joining on each chunk would be quadratic). */
  #pendingChunks: Buffer[] = []
  #ended = false
  #error: Error | undefined
  readonly #waiters = new Set<() => void>()
  /** Resolves when the socket closed. */
  readonly closed: Promise<void>
  /** The last read started, so the next one waits its turn. */
  #reads: Promise<unknown> = Promise.resolve()

  /** @param socket - A connected socket. */
  constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.#pendingChunks.push(chunk)
      this.#notify()
    })
    socket.on('end', () => {
      this.#ended = true
      this.#notify()
    })
    socket.on('error', (error) => {
      this.#error = error
      this.#notify()
    })
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
    socket.once('close', () => {
      this.#ended = true
      this.#notify()
    })
  }

  /** Bytes received and not yet read. */
  get buffered(): Buffer {
    return this.#joined()
  }

  #joined(): Buffer {
    if (this.#pendingChunks.length > 0) {
      this.#buffer = Buffer.concat([this.#buffer, ...this.#pendingChunks])
      this.#pendingChunks = []
    }
    return this.#buffer
  }

  /** Whether the server ended its side (EOF) or the socket closed. */
  get ended(): boolean {
    return this.#ended
  }

  /** The socket error seen, if any (`ECONNRESET`, ...). */
  get error(): Error | undefined {
    return this.#error
  }

  /**
   * Writes `data` and resolves once it was handed to the kernel.
   *
   * @param data - Bytes or text.
   */
  send(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (error) => (error ? reject(error) : resolve())))
  }

  /**
   * Reads one line, `\n` included.
   *
   * @param timeoutMs - The deadline.
   * @throws Error at EOF without a full line, or when the deadline passes.
   */
  readLine(timeoutMs = DEFAULT_DEADLINE_MS): Promise<string> {
    return this.#inTurn(async () => {
      await this.#waitFor(() => this.#joined().includes(10) || this.#ended, timeoutMs, 'a line')
      const end = this.#joined().indexOf(10)
      if (end === -1) throw new Error(`Cannot read a line: the connection ended after ${JSON.stringify(this.#joined().toString())}`)
      return this.#take(end + 1).toString()
    })
  }

  /**
   * Reads exactly `n` bytes.
   *
   * @throws Error at EOF before `n` bytes, or when the deadline passes.
   */
  readBytes(n: number, timeoutMs = DEFAULT_DEADLINE_MS): Promise<Buffer> {
    return this.#inTurn(async () => {
      await this.#waitFor(() => this.#joined().length >= n || this.#ended, timeoutMs, `${n} bytes`)
      if (this.#joined().length < n) throw new Error(`Cannot read ${n} bytes: the connection ended after ${this.#buffer.length}`)
      return this.#take(n)
    })
  }

  /** Reads everything until the server ends the connection. */
  async readAll(timeoutMs = DEFAULT_DEADLINE_MS): Promise<Buffer> {
    await this.#waitFor(() => this.#ended, timeoutMs, 'the end of the connection')
    return this.#take(this.#joined().length)
  }

  /** Waits until the server ends the connection or it closes. */
  async waitForEnd(timeoutMs = DEFAULT_DEADLINE_MS): Promise<void> {
    await this.#waitFor(() => this.#ended, timeoutMs, 'the end of the connection')
  }

  /** Half-closes: sends FIN, keeps reading. */
  end(): void {
    this.socket.end()
  }

  /** Closes abruptly: with RST over TCP; a Unix stream socket, which has no reset, is closed. */
  reset(): void {
    // A reset (RST) exists only for TCP; a Unix stream socket is just closed.
    if (this.socket.remoteFamily === undefined) this.socket.destroy()
    else this.socket.resetAndDestroy()
  }

  /** Closes the socket. */
  destroy(): void {
    this.socket.destroy()
  }

  #take(n: number): Buffer {
    this.#joined()
    const taken = this.#buffer.subarray(0, n)
    this.#buffer = this.#buffer.subarray(n)
    return Buffer.from(taken)
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter()
  }

  /**
   * Runs reads one after another, in the order they were called: two reads
   * waiting at once would both wake on one line and the second would see
   * nothing left. Each read's deadline starts with its turn.
   */
  #inTurn<T>(read: () => Promise<T>): Promise<T> {
    const result = this.#reads.then(read, read)
    this.#reads = result.catch(() => {})
    return result
  }

  #waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check)
        reject(new Error(`Cannot read ${what}: nothing after ${timeoutMs} ms (received ${this.#joined().length} bytes)`))
      }, timeoutMs)
      const check = (): void => {
        if (!condition()) return
        clearTimeout(timer)
        this.#waiters.delete(check)
        resolve()
      }
      this.#waiters.add(check)
    })
  }
}

/**
 * Connects to a stream server's address (TCP or Unix). Inside a test the
 * client is destroyed when the test finishes.
 *
 * @param address - `server.address`.
 * @param timeoutMs - The deadline for connecting.
 * @returns The connected client.
 * @throws The connect error (`ECONNREFUSED`, ...) or a deadline error.
 * @example
 * ```ts
 * const client = await connect(server.address)
 * ```
 */
export function connect(address: SocketAddress, timeoutMs = DEFAULT_DEADLINE_MS): Promise<LoopbackClient> {
  const options: net.NetConnectOpts =
    'path' in address
      ? { path: address.path ?? '' }
      : { host: address.host === '::' ? '::1' : address.host === '0.0.0.0' ? '127.0.0.1' : address.host, port: address.port }
  return new Promise((resolve, reject) => {
    const socket = net.connect(options)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`Cannot connect to ${formatAddress(address)}: no answer after ${timeoutMs} ms`))
    }, timeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeListener('error', onError)
      registerCleanup(() => socket.destroy())
      resolve(new LoopbackClient(socket))
    })
    const onError = (error: Error): void => {
      clearTimeout(timer)
      reject(error)
    }
    socket.once('error', onError)
  })
}
