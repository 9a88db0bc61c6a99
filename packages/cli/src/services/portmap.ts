/**
 * The portmapper (RFC 1833): program 100000 versions 2, 3 and 4, as
 * Debian's rpcbind serves them, registered with itself on every listener
 * it serves (`socketserver serve portmap --tcp 127.0.0.1:111 --udp
 * 127.0.0.1:111`). Its table lives in one process: serve it without
 * `--processes` and with a policy other than `forked`.
 *
 * @module
 */

import type { SocketAddress } from '@socketserver/core'
import { portmapper, rpcHandler } from '@socketserver/oncrpc'

const service = portmapper()

/** Answers portmapper calls over streams and datagrams. */
export default rpcHandler(service.program)

/**
 * Registers the portmapper itself on its listeners, as rpcbind does (so
 * `rpcinfo -p` lists program 100000).
 *
 * @param listeners - The listeners.
 */
export function listening(listeners: readonly { readonly address: SocketAddress }[]): undefined {
  service.registerSelf(listeners)
  return undefined
}
