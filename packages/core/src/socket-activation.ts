/**
 * Socket activation and readiness, systemd's way: listening sockets passed
 * in by a parent (`LISTEN_FDS`), and `READY=1` / `STOPPING=1` told to
 * `$NOTIFY_SOCKET`. Both work with any parent that follows the convention
 * (systemd, `systemd-socket-activate`, our supervisor).
 *
 * @module
 */

import { createRequire } from 'node:module'
import type { Transport } from './address.js'
import { SocketActivationError } from './errors.js'
import type { DatagramServerOptions } from './servers/datagram-server.js'
import { inspectSocket, type SocketKind } from './servers/inherited-socket.js'
import type { StreamServerOptions } from './servers/stream-server.js'
import { TCPServer } from './servers/tcp-server.js'
import { UDPServer } from './servers/udp-server.js'
import { UnixDatagramServer } from './servers/unix-datagram-server.js'
import { UnixStreamServer } from './servers/unix-stream-server.js'
import type { Server, SocketRequest } from './types.js'

/** The first inherited descriptor (`SD_LISTEN_FDS_START`): after stdin, stdout and stderr. */
export const LISTEN_FDS_START = 3

/** One socket passed in by the parent. */
export interface ListenFd {
  /** The descriptor: 3, 4, ... */
  readonly fd: number
  /** Its name from `LISTEN_FDNAMES` (systemd's `FileDescriptorName=`, `--fdname`); `unknown` without one, as systemd says. */
  readonly name: string
  /**
   * What the kernel says it is (`tcp`, `udp`, `unix-stream`,
   * `unix-datagram`, `unix-seqpacket`, `other`), or `undefined` where /proc
   * cannot tell (not Linux).
   */
  readonly kind: SocketKind | undefined
}

/** Options of {@link listenFds}. */
export interface ListenFdsOptions {
  /** Where to read the variables. Default `process.env`. */
  environment?: NodeJS.ProcessEnv
  /**
   * Remove `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` from the
   * environment once read, so that child processes do not take the sockets
   * for theirs (as `sd_listen_fds(1)`). Default true.
   */
  unsetEnvironment?: boolean
}

/**
 * The sockets this process was passed, systemd's way: `LISTEN_FDS`
 * descriptors from 3, for this process only (`LISTEN_PID` must be its pid),
 * named by `LISTEN_FDNAMES`. None when the variables are not there or are
 * another process's, as `sd_listen_fds()`.
 *
 * @param options - Where to read, and whether to unset the variables after.
 * @returns The sockets, in descriptor order.
 * @throws SocketActivationError when `LISTEN_FDS` is not a count, or
 *   `LISTEN_FDNAMES` names a different number of sockets.
 * @example
 * ```ts
 * // systemd-socket-activate -l 127.0.0.1:8007 node server.js
 * for (const inherited of listenFds()) {
 *   const server = await serverFromFd(inherited.fd)
 *   void serve(server, echo, { signal })
 * }
 * ```
 */
export function listenFds(options: ListenFdsOptions = {}): ListenFd[] {
  const environment = options.environment ?? process.env
  const pid = environment.LISTEN_PID
  const count = environment.LISTEN_FDS
  const names = environment.LISTEN_FDNAMES
  if (options.unsetEnvironment ?? true) {
    delete environment.LISTEN_PID
    delete environment.LISTEN_FDS
    delete environment.LISTEN_FDNAMES
  }
  // Not set, or meant for another process (a parent that did not unset them).
  if (pid === undefined || count === undefined || pid.trim() !== String(process.pid)) return []
  if (!/^\d+$/.test(count.trim())) {
    throw new SocketActivationError(`Cannot use LISTEN_FDS ${JSON.stringify(count)}: expected a count of descriptors`)
  }
  const n = Number(count.trim())
  const named = names === undefined || names === '' ? [] : names.split(':')
  if (named.length > 0 && named.length !== n) {
    throw new SocketActivationError(
      `Cannot use LISTEN_FDNAMES ${JSON.stringify(names)}: it names ${named.length} sockets, LISTEN_FDS says ${n}`,
    )
  }
  return Array.from({ length: n }, (_, index) => {
    const fd = LISTEN_FDS_START + index
    let kind: SocketKind | undefined
    try {
      kind = inspectSocket(fd)?.kind
    } catch {
      throw new SocketActivationError(`Cannot use LISTEN_FDS ${n}: fd ${fd} is not open`, fd)
    }
    return { fd, name: named[index] || 'unknown', kind }
  })
}

/** The kind of socket each transport is. */
const KIND_OF: Record<Transport, SocketKind> = { tcp: 'tcp', udp: 'udp', unix: 'unix-stream', 'unix-dgram': 'unix-datagram' }

/** Options of {@link serverFromFd}: a stream server's and a datagram server's (each takes its own). */
export type InheritedServerOptions = StreamServerOptions & DatagramServerOptions & { noDelay?: boolean }

/**
 * A server of whatever kind an inherited socket is: `TCPServer`,
 * `UnixStreamServer` or `UDPServer` (`fromFd()` of each).
 *
 * @param fd - The descriptor (a {@link ListenFd}'s `fd`).
 * @param options - Options for the server; those of the other kind are ignored.
 * @param transport - What the socket is, when the kernel cannot say (a TCP
 *   socket bound and not yet listening, or no /proc): a supervisor knows.
 * @returns The listening (or bound) server.
 * @throws SocketActivationError when the kind is not one a server serves
 *   (a Unix datagram socket: see {@link UnixDatagramServer.fromFd}), or
 *   cannot be told (not Linux).
 * @example
 * ```ts
 * const servers = await Promise.all(listenFds().map(({ fd }) => serverFromFd(fd)))
 * ```
 */
export async function serverFromFd(
  fd: number,
  options: InheritedServerOptions = {},
  transport?: Transport,
): Promise<Server<SocketRequest>> {
  let kind: SocketKind | undefined
  try {
    kind = inspectSocket(fd)?.kind ?? (transport === undefined ? undefined : KIND_OF[transport])
  } catch {
    throw new SocketActivationError(`Cannot make a server from fd ${fd}: it is not open`, fd)
  }
  if (kind === 'tcp') return TCPServer.fromFd(fd, options)
  if (kind === 'unix-stream') return UnixStreamServer.fromFd(fd, options)
  if (kind === 'udp') return UDPServer.fromFd(fd, options)
  if (kind === 'unix-datagram') return UnixDatagramServer.fromFd(fd)
  throw new SocketActivationError(
    kind === undefined
      ? `Cannot make a server from fd ${fd}: its kind cannot be read here (no /proc); use the fromFd() of its server class`
      : `Cannot make a server from fd ${fd}: it is ${kind === 'other' ? 'not a socket any server here serves' : `a ${kind} socket, which no server here serves`}`,
    fd,
  )
}

/**
 * Tells the service manager a state, as `sd_notify()`: one datagram to the
 * Unix socket at the path `$NOTIFY_SOCKET` (systemd's `/run/systemd/notify`;
 * an abstract name, written with a leading `@`, is refused: Node's only
 * Unix datagram sockets, `node-unix-socket`'s, pad such a name to a
 * different one). `READY=1` when serving starts (systemd's `Type=notify`),
 * `STOPPING=1` when it stops, `RELOADING=1`, `STATUS=...`; several lines at
 * once are one datagram.
 *
 * @param state - The state lines, such as `'READY=1'`.
 * @param environment - Where to read `NOTIFY_SOCKET`. Default `process.env`.
 * @returns Whether it was sent: false without `$NOTIFY_SOCKET` (not run by
 *   a service manager that asked).
 * @throws SocketActivationError when the datagram cannot be sent (no
 *   socket at that path, permission denied, an abstract name).
 * @example
 * ```ts
 * await notifyServiceManager('READY=1')
 * signal.addEventListener('abort', () => void notifyServiceManager('STOPPING=1'))
 * ```
 */
export async function notifyServiceManager(state: string, environment: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const where = environment.NOTIFY_SOCKET
  if (where === undefined || where === '') return false
  if (where.startsWith('@')) {
    // node-unix-socket pads an abstract name to the whole sun_path, and the
    // service manager binds it at its exact length: another name to the kernel.
    throw new SocketActivationError(
      `Cannot notify the service manager at NOTIFY_SOCKET ${JSON.stringify(where)}: an abstract socket name cannot be reached from Node here (only a path can)`,
    )
  }
  const path = where
  const require = createRequire(import.meta.url)
  const { DgramSocket } = require('node-unix-socket') as typeof import('node-unix-socket')
  const socket = new DgramSocket()
  const data = Buffer.from(state)
  try {
    await new Promise<void>((resolve, reject) => {
      try {
        socket.sendTo(data, 0, data.length, path, (error) => (error === undefined || error === null ? resolve() : reject(error)))
      } catch (error) {
        reject(error)
      }
    })
  } catch (error) {
    throw new SocketActivationError(
      `Cannot notify the service manager at NOTIFY_SOCKET ${JSON.stringify(where)}: ${(error as Error).message ?? String(error)}`,
    )
  } finally {
    socket.close()
  }
  return true
}
