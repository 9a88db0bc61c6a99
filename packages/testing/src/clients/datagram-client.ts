/**
 * A datagram client for tests, over UDP or Unix datagram sockets.
 *
 * @module
 */

import dgram from 'node:dgram'
import { createRequire } from 'node:module'
import type { SocketAddress } from '@socketserver/core'
import { DEFAULT_DEADLINE_MS } from '../events.js'
import { tempSocketPath } from '../temp-socket-path.js'

/** The part of node-unix-socket's DgramSocket the client uses. */
interface NativeDgramSocket {
  bind(path: string): void
  sendTo(buf: Buffer, offset: number, length: number, path: string, callback: (error?: Error) => void): void
  close(): void
  on(event: 'data', listener: (data: Buffer, path: string) => void): void
  on(event: 'error', listener: (error: Error) => void): void
}

/** Options of {@link openDatagramClient}. */
export interface DatagramClientOptions {
  /**
   * For Unix datagram servers: bind a socket path of the client's own, so
   * replies can reach it. Default true; false makes an unnamed client.
   */
  bind?: boolean
}

/**
 * A datagram client that queues the replies it receives.
 *
 * @example
 * ```ts
 * const client = await openDatagramClient(server.address)
 * await client.send('ping')
 * expect((await client.receive()).toString()).toBe('ping')
 * client.close()
 * ```
 */
export class DatagramClient {
  readonly #send: (data: Buffer) => Promise<void>
  readonly #close: () => void
  readonly #received: Buffer[] = []
  #closed = false
  readonly #waiters = new Set<() => void>()
  /** The client's own path for Unix datagram clients that bound one. */
  readonly path: string | undefined

  /** @internal Use {@link openDatagramClient}. */
  constructor(send: (data: Buffer) => Promise<void>, close: () => void, path: string | undefined) {
    this.#send = send
    this.#close = close
    this.path = path
  }

  /** @internal Called for each datagram received. */
  deliver(data: Buffer): void {
    this.#received.push(data)
    for (const waiter of [...this.#waiters]) waiter()
  }

  /** How many replies arrived and were not read yet. */
  get pending(): number {
    return this.#received.length
  }

  /**
   * Sends one datagram to the server.
   *
   * @throws Error with code `EAGAIN` (Unix datagram only) when the server's
   *   receive queue is full; the client is then closed (see the message).
   */
  send(data: string | Uint8Array): Promise<void> {
    return this.#send(Buffer.from(data))
  }

  /**
   * Takes the next datagram received, waiting for one.
   *
   * @throws Error when none arrives within `timeoutMs`.
   */
  receive(timeoutMs = DEFAULT_DEADLINE_MS): Promise<Buffer> {
    const ready = this.#received.shift()
    if (ready !== undefined) return Promise.resolve(ready)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(check)
        reject(new Error(`Cannot receive a datagram: none came within ${timeoutMs} ms`))
      }, timeoutMs)
      const check = (): void => {
        const data = this.#received.shift()
        if (data === undefined) return
        clearTimeout(timer)
        this.#waiters.delete(check)
        resolve(data)
      }
      this.#waiters.add(check)
    })
  }

  /** Closes the client's socket. Closing again does nothing. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#close()
  }
}

/**
 * Opens a datagram client aimed at `address` (UDP or Unix datagram). Unix
 * clients bind a path in a fresh temporary directory unless `bind: false`.
 *
 * @param address - The server's address.
 * @param options - `bind`.
 * @returns The client.
 * @example
 * ```ts
 * const unnamed = await openDatagramClient(server.address, { bind: false })
 * ```
 */
export async function openDatagramClient(address: SocketAddress, options: DatagramClientOptions = {}): Promise<DatagramClient> {
  if ('path' in address) {
    const require = createRequire(import.meta.url)
    const { DgramSocket } = require('node-unix-socket') as { DgramSocket: new () => NativeDgramSocket }
    const socket = new DgramSocket()
    const path = options.bind === false ? undefined : tempSocketPath('client.sock')
    if (path !== undefined) socket.bind(path)
    const target = address.path ?? ''
    const client = new DatagramClient(
      (data) =>
        new Promise((resolve, reject) => {
          let answered = false
          socket.sendTo(data, 0, data.length, target, (error) => {
            answered = true
            if (error) reject(error)
            else resolve()
          })
          if (answered) return
          // The send would have blocked: the server's receive queue is full.
          // node-unix-socket never reads a socket again after that, so this
          // client could not get a reply: close it and say so.
          socket.close()
          const message =
            "Cannot send: the server's receive queue is full (EAGAIN), and a node-unix-socket socket stops receiving after a send that would block; this client is closed, open another"
          reject(Object.assign(new Error(message), { code: 'EAGAIN' }))
        }),
      () => socket.close(),
      path,
    )
    socket.on('error', () => {})
    socket.on('data', (data) => client.deliver(data))
    return client
  }
  const socket = dgram.createSocket(address.family === 'IPv6' ? 'udp6' : 'udp4')
  await new Promise<void>((resolve) => socket.bind(0, address.family === 'IPv6' ? '::1' : '127.0.0.1', resolve))
  const host = address.host === '::' ? '::1' : address.host === '0.0.0.0' ? '127.0.0.1' : address.host
  const client = new DatagramClient(
    (data) => new Promise((resolve, reject) => socket.send(data, address.port, host, (error) => (error ? reject(error) : resolve()))),
    () => socket.close(),
    undefined,
  )
  socket.on('message', (data) => client.deliver(data))
  // Send failures reach send()'s promise; nothing else is worth a crash.
  socket.on('error', () => {})
  return client
}
