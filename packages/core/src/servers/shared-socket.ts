/**
 * Sockets bound in one process for others to serve: a supervisor binds
 * each listener once and its workers inherit the descriptor.
 *
 * @module
 */

import dgram from 'node:dgram'
import { lookup } from 'node:dns/promises'
import { closeSync } from 'node:fs'
import net from 'node:net'
import { getSystemErrorName } from 'node:util'
import { formatAddress, inetAddress, type SocketAddress } from '../address.js'
import { BindError, InvalidOptionError, SocketActivationError, SocketServerError } from '../errors.js'
import { inspectSocket } from './inherited-socket.js'
import { prepareSocketPath, removeSocketPath, socketInode } from './socket-path.js'
import { bindError } from './tcp-server.js'

/** What to bind: a TCP or UDP address, or a Unix stream socket's path. */
export type SharedSocketAddress =
  | { readonly transport: 'tcp' | 'udp'; readonly host: string; readonly port: number }
  | { readonly transport: 'unix'; readonly path: string }

/** A socket bound here and never read here: other processes inherit `fd` and serve it. */
export interface SharedSocket {
  /** The descriptor to pass on (in `stdio` of `child_process.spawn`, say). */
  readonly fd: number
  /** What it is bound to (port 0 resolved). */
  readonly address: SocketAddress
  /** Closes it here (the processes that inherited it keep their copies); a Unix socket's file is removed. */
  close(): void
}

/** The parts of Node's socket handles this needs. */
interface BoundHandle {
  readonly fd: number
  getsockname?(out: { address?: string; port?: number; family?: string }): number
  close(): void
}

/**
 * Binds a socket without serving it: no connection is accepted and no
 * datagram read in this process, so every one goes to the processes that
 * inherit the descriptor (each makes its server with `fromFd()`). A stream
 * socket starts listening when the first of them listens, and keeps its
 * queue of connections while any process holds it: a supervisor that holds
 * it loses no connection while its workers are replaced.
 *
 * Node binds a socket without polling it only for its own `cluster`
 * module (`net._createServerHandle`, `dgram._createSocketHandle`); this
 * uses the same calls. A Unix datagram socket cannot be shared (another
 * process could not adopt it).
 *
 * @param address - The address or path.
 * @returns The bound socket.
 * @throws BindError (`EADDRINUSE`, `EACCES`, ...), the socket-path errors
 *   of `UnixStreamServer`, InvalidOptionError for another transport.
 * @example
 * ```ts
 * const shared = await bindSharedSocket({ transport: 'tcp', host: '127.0.0.1', port: 0 })
 * spawn(process.execPath, ['worker.js'], { stdio: ['ignore', 'inherit', 'inherit', shared.fd, 'ipc'] })
 * // worker.js: const server = await TCPServer.fromFd(3)
 * ```
 */
export async function bindSharedSocket(address: SharedSocketAddress): Promise<SharedSocket> {
  if (address.transport === 'unix') return bindUnix(address.path)
  if (address.transport !== 'tcp' && address.transport !== 'udp') {
    throw new InvalidOptionError(
      'transport',
      `Cannot share a ${JSON.stringify((address as { transport: unknown }).transport)} socket: expected tcp, udp or unix (a Unix datagram socket cannot be adopted by another process)`,
    )
  }
  const { transport, host, port } = address
  const where = formatAddress({ transport, host, port, family: net.isIPv6(host) ? 'IPv6' : 'IPv4' })
  let ip: string
  try {
    ip = net.isIP(host) ? host : (await lookup(host)).address
  } catch (error) {
    throw bindError(where, error)
  }
  const family = net.isIPv6(ip) ? 6 : 4
  const made: BoundHandle | number =
    transport === 'tcp'
      ? (net as unknown as { _createServerHandle(a: string, p: number, t: number): BoundHandle | number })._createServerHandle(
          ip,
          port,
          family,
        )
      : unwarned(() =>
          (dgram as unknown as { _createSocketHandle(a: string, p: number, t: string): BoundHandle | number })._createSocketHandle(
            ip,
            port,
            family === 6 ? 'udp6' : 'udp4',
          ),
        )
  const handle = bound(made, where)
  const name: { address?: string; port?: number } = {}
  // libuv keeps a TCP bind's failure (EADDRINUSE) until listen(), which
  // this process never calls; getsockname() reports it.
  const status = handle.getsockname?.(name) ?? 0
  if (status !== 0) {
    handle.close()
    bound(status, where)
  }
  return {
    fd: handle.fd,
    address: inetAddress(transport, name.address ?? ip, name.port ?? port),
    close: () => handle.close(),
  }
}

async function bindUnix(path: string): Promise<SharedSocket> {
  try {
    await prepareSocketPath(path)
  } catch (error) {
    if (error instanceof SocketServerError) throw error
    throw new BindError(path, `Cannot bind ${JSON.stringify(path)}: ${(error as Error).message}`, 'SS_ERR_BIND', { cause: error })
  }
  const made = (net as unknown as { _createServerHandle(a: string, p: number, t: number): BoundHandle | number })._createServerHandle(
    path,
    -1,
    -1,
  )
  const handle = bound(made, JSON.stringify(path))
  const inode = await socketInode(path)
  return {
    fd: handle.fd,
    address: { transport: 'unix', path },
    close: () => {
      handle.close()
      // libuv removes a path it bound when the handle closes; in case it did not, ours only.
      removeSocketPath(path, inode)
    },
  }
}

/**
 * Runs `make` without Node's deprecation warning for `dgram._createSocketHandle`
 * (DEP0112: it is deprecated for users, kept for `cluster`, and the only way
 * to bind a UDP socket without reading it).
 */
function unwarned<T>(make: () => T): T {
  const before = process.noDeprecation
  process.noDeprecation = true
  try {
    return make()
  } finally {
    process.noDeprecation = before
  }
}

/** The handle, or the failure its errno names. */
function bound(made: BoundHandle | number, where: string): BoundHandle {
  if (typeof made !== 'number') return made
  const code = getSystemErrorName(made)
  throw bindError(where.replace(/^"|"$/g, ''), Object.assign(new Error(code), { code }))
}

/**
 * A socket this process was passed (socket activation: see `listenFds()`),
 * to pass on to other processes as {@link bindSharedSocket}'s are: a
 * supervisor started by systemd hands its inherited sockets to its workers.
 * Its address is read from the kernel (/proc).
 *
 * @param fd - The inherited descriptor.
 * @returns The socket; `close()` closes this process's descriptor (the
 *   file of a Unix socket stays: it is whoever bound it's).
 * @throws SocketActivationError when `fd` is not open, or not a TCP, UDP
 *   or Unix stream socket whose address can be read here.
 * @example
 * ```ts
 * const sockets = listenFds().map(({ fd }) => sharedSocketFromFd(fd))
 * ```
 */
export function sharedSocketFromFd(fd: number): SharedSocket {
  let facts: ReturnType<typeof inspectSocket>
  try {
    facts = inspectSocket(fd)
  } catch {
    throw new SocketActivationError(`Cannot share fd ${fd}: it is not open`, fd)
  }
  let address: SocketAddress | undefined
  if ((facts?.kind === 'tcp' || facts?.kind === 'udp') && facts.host !== undefined && facts.port !== undefined) {
    address = inetAddress(facts.kind, facts.host, facts.port)
  } else if (facts?.kind === 'unix-stream' && facts.path) {
    address = { transport: 'unix', path: facts.path }
  }
  if (address === undefined) {
    throw new SocketActivationError(
      `Cannot share fd ${fd}: ${facts === undefined ? 'what it is cannot be read here' : `it is not a TCP, UDP or named Unix stream socket (${facts.kind})`}`,
      fd,
    )
  }
  return { fd, address, close: () => closeSync(fd) }
}
