/**
 * Unix domain stream sockets.
 *
 * @module
 */

import { chmod } from 'node:fs/promises'
import type net from 'node:net'
import type { SocketAddress } from '../address.js'
import { BindError, InvalidOptionError, SocketPathInUseError, SocketServerError } from '../errors.js'
import { systemCode } from '../internal/system-code.js'
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

  protected override async listenOn(netServer: net.Server, backlog: number): Promise<void> {
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

  protected override closeListener(netServer: net.Server): Promise<void> {
    return closeKeepingForeignFile(this.#path, this.#inode, () => netServer.close())
  }

  protected override async afterClose(): Promise<void> {
    removeSocketPath(this.#path, this.#inode)
  }
}

function wrap(path: string, error: unknown): BindError {
  const code = systemCode(error, 'SS_ERR_BIND')
  // Another server bound the path between our check and our bind.
  if (code === 'EADDRINUSE') return new SocketPathInUseError(path, { cause: error })
  const detail = error instanceof Error ? error.message : String(error)
  return new BindError(path, `Cannot bind ${JSON.stringify(path)}: ${detail}`, code, { cause: error })
}
