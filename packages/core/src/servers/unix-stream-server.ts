/**
 * Unix domain stream sockets.
 *
 * @module
 */

import { chmod } from 'node:fs/promises'
import type net from 'node:net'
import type { SocketAddress } from '../address.js'
import { BindError, InvalidOptionError, SocketActivationError, SocketPathInUseError, SocketServerError } from '../errors.js'
import { systemCode } from '../internal/system-code.js'
import { inheritedSocket } from './inherited-socket.js'
import { closeKeepingForeignFile, isAbstractPath, prepareSocketPath, removeSocketPath, socketInode } from './socket-path.js'
import { listen, StreamServer, type StreamServerOptions } from './stream-server.js'

/** A Unix stream client's address: such clients have no path of their own. One object for all of them. */
const UNNAMED_PEER: SocketAddress = Object.freeze({ transport: 'unix', path: null })

/** Options of {@link UnixStreamServer}. */
export interface UnixStreamServerOptions extends StreamServerOptions {
  /**
   * The socket path, or on Linux an abstract name starting with `"\0"`. A
   * stale socket file there (nobody listening) is replaced; anything else at
   * the path is refused and left alone.
   */
  path: string
  /**
   * Permissions for the socket file, such as `0o660` (ignored for abstract
   * names). Default: what the process umask gives.
   */
  mode?: number
}

/** Options of {@link UnixStreamServer.fromFd}: those of any stream server, and the path to report. */
export interface InheritedUnixStreamServerOptions extends StreamServerOptions {
  /** The path to report as the server's address. Default: the one the kernel reports for the socket. */
  path?: string
}

/**
 * A Unix domain stream server. Python counterpart:
 * `socketserver.UnixStreamServer`. Unlike Python's, it replaces a stale socket
 * file, refuses a live server's path and removes its own file on close.
 *
 * There is no `reusePort` here: SO_REUSEPORT has no meaning for Unix sockets
 * (Python 3.13.0 even fails with EOPNOTSUPP, gh-128916).
 *
 * @example
 * ```ts
 * await using server = await UnixStreamServer.listen({ path: '/tmp/echo.sock', mode: 0o600 })
 * for await (const request of server) {
 *   request.socket.pipe(request.socket)
 * }
 * ```
 */
export class UnixStreamServer extends StreamServer {
  readonly #path: string
  readonly #mode: number | undefined
  #inode: number | undefined
  /** The inherited listening descriptor it serves, when made by {@link UnixStreamServer.fromFd}. */
  #fd: number | undefined

  /**
   * Makes an unbound server (Python's `bind_and_activate=False`): call
   * {@link UnixStreamServer.bind} then {@link UnixStreamServer.activate}.
   *
   * @throws InvalidOptionError for a missing path or a bad mode.
   */
  constructor(options: UnixStreamServerOptions) {
    super(options)
    if (typeof options?.path !== 'string' || options.path.length === 0) {
      throw new InvalidOptionError('path', `Cannot use path ${JSON.stringify(options?.path)}: expected a socket path`)
    }
    if (options.mode !== undefined && (!Number.isInteger(options.mode) || options.mode < 0 || options.mode > 0o7777)) {
      throw new InvalidOptionError('mode', `Cannot use mode ${JSON.stringify(options.mode)}: expected permission bits such as 0o660`)
    }
    this.#path = options.path
    this.#mode = options.mode
  }

  /**
   * Makes, binds and activates a server.
   *
   * Abort behaviour: an aborted `options.signal` rejects before binding;
   * aborting it later closes the server and removes its file.
   *
   * @param options - The path and listening options.
   * @returns The listening server.
   * @throws SocketPathInUseError when a live server listens there,
   *   SocketPathNotSocketError when a non-socket is there,
   *   SocketPathTooLongError, or BindError with the system code.
   * @example
   * ```ts
   * const server = await UnixStreamServer.listen({ path: '\0my-service' }) // Linux abstract name
   * ```
   */
  static async listen(options: UnixStreamServerOptions): Promise<UnixStreamServer> {
    const server = new UnixStreamServer(options)
    await server.bind()
    server.activate()
    return server
  }

  /**
   * Makes a server of an inherited listening Unix stream socket (socket
   * activation: see {@link listenFds}). Its path is `options.path` if given,
   * else the one the kernel reports for it (Node's `address()` knows none
   * for an inherited socket). The descriptor becomes the server's, but the
   * socket file stays whoever's bound it: closing the server never removes it.
   *
   * @param fd - The descriptor, such as 3 (the first of `LISTEN_FDS`).
   * @param options - The options of any stream server, and the path to report.
   * @returns The listening server.
   * @throws SocketActivationError when `fd` is not open, not a socket, not
   *   a Unix stream one, or has no path to report; InvalidOptionError for a
   *   value that is not a descriptor.
   * @example
   * ```ts
   * const server = await UnixStreamServer.fromFd(3)
   * console.log(server.address) // { transport: 'unix', path: '/run/echo.sock' }
   * ```
   */
  static async fromFd(fd: number, options: InheritedUnixStreamServerOptions = {}): Promise<UnixStreamServer> {
    const facts = inheritedSocket(fd, 'unix-stream', 'UnixStreamServer')
    const path = options.path ?? facts?.path ?? ''
    if (path === '') {
      throw new SocketActivationError(
        `Cannot make a UnixStreamServer from fd ${fd}: the socket has no path (pass it as options.path, or give it a name)`,
        fd,
      )
    }
    const server = new UnixStreamServer({ ...options, path })
    server.#fd = fd
    await server.bind()
    server.activate()
    return server
  }

  protected override async listenOn(netServer: net.Server, backlog: number): Promise<void> {
    if (this.#fd !== undefined) {
      const fd = this.#fd
      return listen(netServer, { fd, backlog } as net.ListenOptions, (error) => {
        const detail = error instanceof Error ? error.message : String(error)
        return new SocketActivationError(`Cannot make a UnixStreamServer from fd ${fd}: ${detail}`, fd)
      })
    }
    const path = this.#path
    try {
      await prepareSocketPath(path)
    } catch (error) {
      throw error instanceof SocketServerError ? error : wrap(path, error)
    }
    await listen(netServer, { path, backlog }, (error) => wrap(path, error))
    this.#inode = await socketInode(path)
    if (this.#mode !== undefined && !isAbstractPath(path)) {
      try {
        await chmod(path, this.#mode)
      } catch (error) {
        netServer.close()
        throw wrap(path, error)
      }
    }
  }

  protected override describe(): SocketAddress {
    return { transport: 'unix', path: this.#path }
  }

  protected override peerAddress(): SocketAddress {
    return UNNAMED_PEER
  }

  protected override async closeListener(netServer: net.Server): Promise<void> {
    // An inherited socket's file is its binder's: closing only lets go of the descriptor.
    if (this.#fd !== undefined) netServer.close()
    else await closeKeepingForeignFile(this.#path, this.#inode, () => netServer.close())
  }

  protected override async afterClose(): Promise<void> {
    if (this.#fd === undefined) removeSocketPath(this.#path, this.#inode)
  }
}

function wrap(path: string, error: unknown): BindError {
  const code = systemCode(error, 'SS_ERR_BIND')
  // Another server bound the path between our check and our bind.
  if (code === 'EADDRINUSE') return new SocketPathInUseError(path, { cause: error })
  const detail = error instanceof Error ? error.message : String(error)
  return new BindError(path, `Cannot bind ${JSON.stringify(path)}: ${detail}`, code, { cause: error })
}
