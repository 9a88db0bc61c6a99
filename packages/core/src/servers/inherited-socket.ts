/**
 * What an inherited descriptor is: Node tells a TCP socket from a Unix one
 * only as it adopts it, and tells neither the family of a UDP socket (which
 * decides how Node must send from it) nor the path of a Unix one. Linux
 * says all of it in /proc: the descriptor's socket inode, and the kernel's
 * tables of sockets by protocol (those of this process's network namespace).
 *
 * @module
 * @internal
 */

import { readFileSync, readlinkSync } from 'node:fs'
import { InvalidOptionError, SocketActivationError } from '../errors.js'

/** The kinds of socket a server can be made from, and what else there is. */
export type SocketKind = 'tcp' | 'udp' | 'unix-stream' | 'unix-datagram' | 'unix-seqpacket' | 'other'

/** An inherited socket, as the kernel describes it. */
export interface SocketFacts {
  readonly kind: SocketKind
  /** For TCP and UDP. */
  readonly family?: 'IPv4' | 'IPv6'
  /** For TCP and UDP: the address and port it is bound to. */
  readonly host?: string
  readonly port?: number
  /** For a Unix socket bound to a path (an abstract name starts with `\0`); empty when unnamed. */
  readonly path?: string
  /** Whether it listens (stream sockets). */
  readonly listening?: boolean
}

/**
 * Reads what `fd` is.
 *
 * @returns The socket's facts; `undefined` when `fd` is open but not a
 *   socket, or /proc cannot tell (not Linux, or a TCP socket bound and not
 *   yet listening, which Linux does not list).
 * @throws Error with code `EBADF` when `fd` is not open.
 */
export function inspectSocket(fd: number): SocketFacts | undefined {
  let target: string
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`)
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') throw Object.assign(new Error(`fd ${fd} is not open`), { code: 'EBADF' })
    return undefined
  }
  const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1]
  if (inode === undefined) return undefined
  for (const [table, kind, family] of INET_TABLES) {
    const row = rowOf(table, inode, 9)
    if (row !== undefined) {
      const [host, port] = localAddress(row[1] ?? '', family)
      return { kind, family, host, port, listening: kind === 'tcp' ? row[3] === '0A' : undefined }
    }
  }
  const unix = rowOf('unix', inode, 6)
  if (unix !== undefined) {
    const kind = UNIX_TYPES[unix[4] ?? ''] ?? 'other'
    // The path is the rest of the line: it may hold spaces.
    const name = unix.at(-1) ?? ''
    return {
      kind,
      // /proc writes an abstract name with '@' for its leading NUL.
      path: name.startsWith('@') ? `\0${name.slice(1)}` : name,
      listening: (Number.parseInt(unix[3] ?? '0', 16) & SO_ACCEPTCON) !== 0,
    }
  }
  // In no table: a TCP socket bound and not yet listening (Linux lists only
  // listening and connected ones), or a protocol not looked up here.
  return undefined
}

/**
 * /proc/net/tcp's `local_address`: the address in hex, in the kernel's byte
 * order of each 32-bit word (little-endian here), and the port in hex.
 */
function localAddress(field: string, family: 'IPv4' | 'IPv6'): [string, number] {
  const [hex = '', portHex = '0'] = field.split(':')
  const bytes: number[] = []
  for (let word = 0; word < hex.length; word += 8) {
    const value = Number.parseInt(hex.slice(word, word + 8), 16)
    bytes.push(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24)
  }
  const port = Number.parseInt(portHex, 16)
  if (family === 'IPv4') return [bytes.join('.'), port]
  const groups: string[] = []
  for (let at = 0; at < 16; at += 2) groups.push((((bytes[at] ?? 0) << 8) | (bytes[at + 1] ?? 0)).toString(16))
  // The shortest form, as Node writes addresses (net.SocketAddress parses and prints it).
  return [new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1), port]
}

const INET_TABLES: ReadonlyArray<readonly [string, SocketKind, 'IPv4' | 'IPv6']> = [
  ['tcp', 'tcp', 'IPv4'],
  ['tcp6', 'tcp', 'IPv6'],
  ['udp', 'udp', 'IPv4'],
  ['udp6', 'udp', 'IPv6'],
]

/** /proc/net/unix's Type column. */
const UNIX_TYPES: Record<string, SocketKind> = { '0001': 'unix-stream', '0002': 'unix-datagram', '0005': 'unix-seqpacket' }

/** /proc/net/unix's flag of a listening socket. */
const SO_ACCEPTCON = 0x10000

/** The row of /proc/net/`table` whose column `column` is `inode`, split on blanks. */
function rowOf(table: string, inode: string, column: number): string[] | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/net/${table}`, 'latin1')
  } catch {
    return undefined
  }
  for (const line of text.split('\n')) {
    if (!line.includes(inode)) continue
    const fields = line.trim().split(/\s+/)
    if (fields[column] !== inode) continue
    // /proc/net/unix ends with the path, which may hold spaces: as one field, last.
    if (table === 'unix') return [...fields.slice(0, 7), /^\s*(?:\S+\s+){7}(.*)$/.exec(line)?.[1] ?? '']
    return fields
  }
  return undefined
}

/** How each kind is named in a message, and the class that serves it. */
const KIND_TEXT: Record<SocketKind, string> = {
  tcp: 'a TCP socket (TCPServer.fromFd())',
  udp: 'a UDP socket (UDPServer.fromFd())',
  'unix-stream': 'a Unix stream socket (UnixStreamServer.fromFd())',
  'unix-datagram': 'a Unix datagram socket (UnixDatagramServer.fromFd())',
  'unix-seqpacket': 'a Unix seqpacket socket, which no server here serves',
  other: 'a socket of a kind no server here serves',
}

/**
 * Checks that `fd` is an open socket of the `expected` kind, for `server`
 * (a class name, for the message).
 *
 * @returns Its facts; `undefined` when /proc cannot tell (Node's own
 *   checks as it adopts the descriptor then apply).
 * @throws InvalidOptionError for a value that is not a descriptor,
 *   SocketActivationError for one that is not open, not a socket, or of
 *   another kind.
 */
export function inheritedSocket(fd: number, expected: SocketKind, server: string): SocketFacts | undefined {
  if (!Number.isInteger(fd) || fd < 0) {
    throw new InvalidOptionError(
      'fd',
      `Cannot make a ${server} from fd ${JSON.stringify(fd)}: expected a file descriptor (an integer of 0 or more)`,
    )
  }
  let facts: SocketFacts | undefined
  try {
    facts = inspectSocket(fd)
  } catch {
    throw new SocketActivationError(`Cannot make a ${server} from fd ${fd}: it is not open`, fd)
  }
  if (facts === undefined) {
    // Unknown (see inspectSocket): Node's own checks as it adopts it apply.
    if (readlinkOrUndefined(fd)?.startsWith('socket:') === false) {
      throw new SocketActivationError(`Cannot make a ${server} from fd ${fd}: it is not a socket`, fd)
    }
    return undefined
  }
  if (facts.kind !== expected) {
    throw new SocketActivationError(`Cannot make a ${server} from fd ${fd}: it is ${KIND_TEXT[facts.kind]}`, fd)
  }
  return facts
}

function readlinkOrUndefined(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    return undefined
  }
}
