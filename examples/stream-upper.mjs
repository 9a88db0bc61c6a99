// Python docs: the StreamRequestHandler variant of the TCP example.
// Run: node examples/stream-upper.mjs
import net from 'node:net'
import { serve, TCPServer } from '@socketserver/core'
import { StreamRequestHandler } from '@socketserver/handlers'

class MyTCPHandler extends StreamRequestHandler {
  async handle() {
    const line = Buffer.from(await this.rfile.readline())
      .toString()
      .trim()
    console.log(`server received: ${line}`)
    await this.wfile.write(line.toUpperCase())
  }
}

const server = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
const controller = new AbortController()
const serving = serve(server, MyTCPHandler, { signal: controller.signal })

const reply = await new Promise((resolve, reject) => {
  const client = net.connect(server.address.port, server.address.host, () => client.write('stream handlers read lines\n'))
  let received = ''
  client.on('data', (chunk) => (received += chunk))
  client.on('end', () => resolve(received))
  client.on('error', reject)
})
console.log(`client received: ${reply}`)
controller.abort()
await serving
await server.close()
