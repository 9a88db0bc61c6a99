// Python docs: the TCP server example (BaseRequestHandler), ported.
// Run: node examples/tcp-upper.mjs
import net from 'node:net'
import { serve, TCPServer } from '@socketserver/core'
import { BaseRequestHandler } from '@socketserver/handlers'

class MyTCPHandler extends BaseRequestHandler {
  async handle() {
    const { value } = await this.request.source.next()
    const data = Buffer.from(value ?? [])
      .toString()
      .trim()
    console.log(`server received: ${data}`)
    this.request.socket.write(data.toUpperCase())
  }
}

const server = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
const controller = new AbortController()
const serving = serve(server, MyTCPHandler, { signal: controller.signal })

// The client side of the docs example.
const reply = await new Promise((resolve, reject) => {
  const client = net.connect(server.address.port, server.address.host, () => client.write('hello world\n'))
  let received = ''
  client.on('data', (chunk) => (received += chunk))
  client.on('end', () => resolve(received))
  client.on('error', reject)
})
console.log(`client received: ${reply}`)
controller.abort()
await serving
