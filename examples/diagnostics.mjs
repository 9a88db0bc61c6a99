// Observability: count requests and errors through node:diagnostics_channel.
// Run: node examples/diagnostics.mjs
import diagnosticsChannel from 'node:diagnostics_channel'
import net from 'node:net'
import { serve, TCPServer } from '@socketserver/core'

const counts = { started: 0, ended: 0, errors: 0 }
diagnosticsChannel.subscribe('socketserver:request:start', () => counts.started++)
diagnosticsChannel.subscribe('socketserver:request:end', () => counts.ended++)
diagnosticsChannel.subscribe('socketserver:request:error', () => counts.errors++)

const server = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
const controller = new AbortController()
let n = 0
const serving = serve(
  server,
  (request) => {
    if (++n === 2) throw new Error('the second request fails')
    request.socket.write('ok\n')
  },
  { signal: controller.signal, handleError: () => {} },
)
for (let i = 0; i < 3; i++) {
  await new Promise((resolve) => {
    const client = net.connect(server.address.port, server.address.host)
    client.resume()
    client.on('close', resolve)
  })
}
controller.abort()
await serving
console.log(`requests started ${counts.started}, ended ${counts.ended}, errors ${counts.errors}`)
