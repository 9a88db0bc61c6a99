/**
 * Unix domain datagram sockets, through the `node-unix-socket` package
 * (Node has no SOCK_DGRAM Unix sockets). Nothing of that package's API is
 * visible to callers.
 *
 * @module
 */

import { chmodSync, lstatSync } from 'node:fs'
import { createRequire } from 'node:module'
import { formatAddress, type SocketAddress } from '../address.js'
import { BindError, InvalidOptionError, ReplyError, SocketActivationError, SocketPathInUseError, SocketServerError } from '../errors.js'
import { systemCode } from '../internal/system-code.js'
import { DatagramServer, type DatagramServerOptions } from './datagram-server.js'
import { inheritedSocket } from './inherited-socket.js'
import { isAbstractPath, prepareSocketPath, removeSocketPath } from './socket-path.js'
import { sendError } from './udp-server.js'

/**
 * node-unix-socket receives into a 65,535-byte buffer and cuts longer
 * datagrams without saying so. A datagram of exactly that length may have
 * been cut, so it is treated as too large: `maxPacketSize` can be at most
 * 65,534 here.
 */
const UNIX_DGRAM_RECEIVE_LIMIT = 65_535

/** node-unix-socket's socket class, loaded on first use. */
let nativeDgramSocket: (new () => NativeDgramSocket) | undefined

function newNativeSocket(): NativeDgramSocket {
  if (nativeDgramSocket === undefined) {
    const require = createRequire(import.meta.url)
    nativeDgramSocket = (require('node-unix-socket') as { DgramSocket: new () => NativeDgramSocket }).DgramSocket
  }
  return new nativeDgramSocket()
}

/** The part of node-unix-socket's DgramSocket we use. */
interface NativeDgramSocket {
  bind(path: string): void
  sendTo(buf: Buffer, offset: number, length: number, path: string, callback: (error?: Error) => void): void
  close(): void
  setRecvBufferSize(size: number): void
  setSendBufferSize(size: number): void
  on(event: 'data', listener: (data: Buffer, path: string) => void): void
  on(event: 'error', listener: (error: Error) => void): void
}

/** Options of {@link UnixDatagramServer}. */
export interface UnixDatagramServerOptions extends DatagramServerOptions {
  /** The socket path. Same rules as the stream server: stale files replaced, others refused. */
  path: string
  /** Permissions for the socket file, such as `0o660`. */
  mode?: number
  /** SO_RCVBUF in bytes. */
  recvBufferSize?: number
  /** SO_SNDBUF in bytes. */
  sendBufferSize?: number
}

/**
 * A Unix domain datagram server. Python counterpart:
 * `socketserver.UnixDatagramServer`. Replies reach only clients that bound a
 * path of their own; for an unbound client `clientAddress.path` is `null` and
 * `reply()` rejects with a `ReplyError` (code `SS_ERR_UNBOUND_CLIENT`).
 * Linux abstract names are not supported for datagram sockets.
 *
 * @example
 * ```ts
 * await using server = await UnixDatagramServer.bind({ path: '/tmp/echo.dgram' })
 * for await (const request of server) await request.reply(request.data)
 * ```
 */
export class UnixDatagramServer extends DatagramServer {
  readonly #options: UnixDatagramServerOptions
  #socket: NativeDgramSocket | undefined
  #inode: number | undefined
  #receive: (data: Uint8Array, from: SocketAddress) => void = () => {}
  #replaced = 0
  #rebindError: BindError | undefined

  /**
   * Makes an unbound server: call {@link UnixDatagramServer.bind} then
   * {@link UnixDatagramServer.activate}.
   *
   * @throws InvalidOptionError for a missing path, an abstract name or a bad mode.
   */
  constructor(options: UnixDatagramServerOptions) {
    super(options, UNIX_DGRAM_RECEIVE_LIMIT)
    if (typeof options?.path !== 'string' || options.path.length === 0) {
      throw new InvalidOptionError('path', `Cannot use path ${JSON.stringify(options?.path)}: expected a socket path`)
    }
    if (isAbstractPath(options.path)) {
      throw new InvalidOptionError('path', 'Cannot use an abstract socket name: Unix datagram servers need a file system path')
    }
    if (options.mode !== undefined && (!Number.isInteger(options.mode) || options.mode < 0 || options.mode > 0o7777)) {
      throw new InvalidOptionError('mode', `Cannot use mode ${JSON.stringify(options.mode)}: expected permission bits such as 0o660`)
    }
    this.#options = options
  }

  /**
   * Makes, binds and activates a Unix datagram server.
   *
   * Abort behaviour: an aborted `options.signal` rejects before binding;
   * aborting it later closes the server and removes its file.
   *
   * @param options - The path and datagram options.
   * @returns The bound server.
   * @throws SocketPathInUseError, SocketPathNotSocketError,
   *   SocketPathTooLongError, or BindError with the system code.
   * @example
   * ```ts
   * const server = await UnixDatagramServer.bind({ path: '/run/app/log.sock', mode: 0o660 })
   * ```
   */
  // `override`: see UDPServer.bind; this factory replaces Function.prototype.bind.
  static override async bind(options: UnixDatagramServerOptions): Promise<UnixDatagramServer> {
    const server = new UnixDatagramServer(options)
    await server.bind()
    server.activate()
    return server
  }

  /**
   * Would make a server of an inherited Unix datagram socket; Node cannot
   * adopt one (it has no Unix datagram sockets, and `node-unix-socket`,
   * which this server uses, only makes sockets of its own), so this always
   * rejects, with a message that says so and names the socket's path. Bind
   * the path with {@link UnixDatagramServer.bind} instead.
   *
   * @param fd - The descriptor.
   * @returns Never: it rejects.
   * @throws SocketActivationError always (and for a descriptor that is not
   *   a Unix datagram socket, what it is).
   * @example
   * ```ts
   * await UnixDatagramServer.fromFd(3).catch((err) => console.error(err.message))
   * ```
   */
  static async fromFd(fd: number): Promise<UnixDatagramServer> {
    const facts = inheritedSocket(fd, 'unix-datagram', 'UnixDatagramServer')
    const path = facts?.path ? ` ${JSON.stringify(facts.path)}` : ''
    throw new SocketActivationError(
      `Cannot make a UnixDatagramServer from fd ${fd}: Node cannot adopt an inherited Unix datagram socket${path}; bind its path with UnixDatagramServer.bind() instead`,
      fd,
    )
  }

  protected override async openSocket(receive: (data: Uint8Array, from: SocketAddress) => void): Promise<SocketAddress> {
    const path = this.#options.path
    try {
      await prepareSocketPath(path)
    } catch (error) {
      throw error instanceof SocketServerError ? error : wrap(path, error)
    }
    this.#receive = receive
    try {
      this.#socket = this.#bindSocket()
    } catch (error) {
      removeSocketPath(path, this.#inode)
      throw wrap(path, error)
    }
    return { transport: 'unix-dgram', path }
  }

  /** Makes a native socket bound to our path, with our options and listeners. */
  #bindSocket(): NativeDgramSocket {
    const options = this.#options
    const socket = newNativeSocket()
    try {
      socket.bind(options.path)
      if (options.recvBufferSize !== undefined) socket.setRecvBufferSize(options.recvBufferSize)
      if (options.sendBufferSize !== undefined) socket.setSendBufferSize(options.sendBufferSize)
      // BigInt figures: see lstatSocketFile() in socket-path.ts.
      this.#inode = Number(lstatSync(options.path, { bigint: true }).ino)
      if (options.mode !== undefined) chmodSync(options.path, options.mode)
    } catch (error) {
      socket.close()
      throw error
    }
    const receive = this.#receive
    socket.on('error', () => {})
    socket.on('data', (data, from) => receive(data, { transport: 'unix-dgram', path: from === '' ? null : from }))
    return socket
  }

  /**
   * Replaces a socket that node-unix-socket stopped reading. When a send
   * would block (the client's receive queue is full: it is not reading its
   * replies), that package queues the datagram and from then on polls its
   * socket for writability only: it never reads again, and spins the CPU
   * while the client stays full. One client that sends requests and reads
   * no reply would make the server deaf. So the stuck socket is closed and a
   * fresh one is bound to the same path at once (the path is free for a few
   * microseconds: a datagram sent in that moment fails with ENOENT at its
   * sender). Datagrams still in the old socket's kernel queue, at most
   * `net.unix.max_dgram_qlen` (10 by default), are lost, and clients that
   * `connect()`ed to the server must connect again.
   */
  #replaceStuckSocket(stuck: NativeDgramSocket): void {
    if (this.#socket !== stuck) return
    this.#socket = undefined
    stuck.close()
    const path = this.#options.path
    try {
      removeSocketPath(path, this.#inode)
      this.#socket = this.#bindSocket()
      this.#replaced++
    } catch (error) {
      // The path was taken meanwhile: this server can no longer receive.
      this.#rebindError = wrap(path, error)
      void this.close()
    }
  }

  /** How often a socket that stopped reading was replaced (see `reply()` errors with code `EAGAIN`). */
  get replacedSockets(): number {
    return this.#replaced
  }

  protected override sendTo(data: Uint8Array, to: SocketAddress): Promise<void> {
    const socket = this.#socket
    const limit = this.maxPacketSize
    return new Promise((resolve, reject) => {
      if (!('path' in to) || to.path === null) {
        const message = `Cannot reply to ${formatAddress(to)}: the client did not bind a socket path, so it has no address to reply to`
        reject(new ReplyError(to, message, 'SS_ERR_UNBOUND_CLIENT'))
        return
      }
      if (socket === undefined) {
        const why = this.#rebindError === undefined ? 'the server is closed' : `the server lost its socket (${this.#rebindError.message})`
        reject(new ReplyError(to, `Cannot reply to ${formatAddress(to)}: ${why}`, 'SS_ERR_SERVER_CLOSED'))
        return
      }
      const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      let answered = false
      socket.sendTo(buffer, 0, buffer.length, to.path, (error) => {
        answered = true
        if (error === undefined || error === null) return resolve()
        reject(sendError(to, buffer.length, limit, withCode(error)))
      })
      // Sent or failed at once, the callback has run. If not, the send would
      // have blocked and the native socket is stuck (see #replaceStuckSocket).
      if (answered) return
      this.#replaceStuckSocket(socket)
      const message = `Cannot reply to ${formatAddress(to)}: its receive queue is full (it is not reading its replies), so the reply was dropped`
      reject(new ReplyError(to, message, 'EAGAIN'))
    })
  }

  protected override async shut(): Promise<void> {
    const socket = this.#socket
    this.#socket = undefined
    socket?.close()
    removeSocketPath(this.#options.path, this.#inode)
  }

  protected override descriptor(): number {
    // node-unix-socket does not expose its descriptor.
    return -1
  }
}

/** node-unix-socket reports errors by message only; recover the errno name. */
function withCode(error: Error): Error {
  if ((error as { code?: unknown }).code !== undefined && (error as { code?: unknown }).code !== 'Unknown') return error
  const known: Array<[RegExp, string]> = [
    [/address already in use/i, 'EADDRINUSE'],
    [/connection refused/i, 'ECONNREFUSED'],
    [/no such file/i, 'ENOENT'],
    [/permission denied/i, 'EACCES'],
    [/message too long/i, 'EMSGSIZE'],
    [/no buffer space/i, 'ENOBUFS'],
    [/resource temporarily unavailable/i, 'EAGAIN'],
  ]
  const code = known.find(([pattern]) => pattern.test(error.message))?.[1]
  return code === undefined ? error : Object.assign(error, { code })
}

function wrap(path: string, error: unknown): BindError {
  const cause = error instanceof Error ? withCode(error) : error
  const code = systemCode(cause, 'SS_ERR_BIND')
  if (code === 'EADDRINUSE') return new SocketPathInUseError(path, { cause })
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new BindError(path, `Cannot bind ${JSON.stringify(path)}: ${detail}`, code, { cause })
}
