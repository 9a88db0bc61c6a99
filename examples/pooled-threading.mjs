// Python docs: the ThreadingMixIn example. There are no threads here:
// pooled() runs requests concurrently on one event loop, up to a bound.
// Run: node examples/pooled-threading.mjs
import net from 'node:net'
import { pooled, serve, TCPServer } from '@socketserver/core'

let served = 0
const handler = async (request) => {
  const { value } = await request.source.next()
  request.socket.write(`request ${++served}: ${Buffer.from(value ?? []).toString()}`)
}

function client(address, message) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(address.port, address.host, () => socket.write(message))
    let received = ''
    socket.on('data', (chunk) => (received += chunk))
    socket.on('end', () => resolve(received))
    socket.on('error', reject)
  })
}

const server = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
const controller = new AbortController()
const serving = serve(server, handler, { signal: controller.signal, policy: pooled({ concurrency: 100 }) })
for (const message of ['Hello World 1', 'Hello World 2', 'Hello World 3']) {
  console.log(`Received: ${await client(server.address, message)}`)
}
controller.abort() // Python's server.shutdown()
await serving
