// The server under test for `pnpm stress` and `pnpm bench`: one of our four
// server classes on loopback (TCP and UDP on 127.0.0.1, an ephemeral port;
// Unix sockets at a temporary path named after the process).
//   listenLoopback('unixdgram', 'ss-bench', { maxPendingDatagrams: 4096 })
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TCPServer, UDPServer, UnixDatagramServer, UnixStreamServer } from '../packages/core/dist/index.js'

/**
 * @param transport - tcp | unix | udp | unixdgram
 * @param name - The prefix of the Unix socket file's name.
 * @param datagramOptions - Options for the datagram servers.
 */
export function listenLoopback(transport, name, datagramOptions = {}) {
  const path = join(tmpdir(), `${name}-${process.pid}.sock`)
  if (transport === 'tcp') return TCPServer.listen({ host: '127.0.0.1', port: 0 })
  if (transport === 'unix') return UnixStreamServer.listen({ path })
  if (transport === 'udp') return UDPServer.bind({ host: '127.0.0.1', port: 0, ...datagramOptions })
  return UnixDatagramServer.bind({ path, ...datagramOptions })
}
