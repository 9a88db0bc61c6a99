// Python docs: the UDP server example, ported.
// Run: node examples/udp-upper.mjs
import dgram from 'node:dgram'
import { serve, UDPServer } from '@socketserver/core'

const upper = (request) => {
  const data = Buffer.from(request.data).toString().trim()
  console.log(`server received: ${data}`)
  return request.reply(data.toUpperCase())
}

const server = await UDPServer.bind({ host: '127.0.0.1', port: 0 })
const controller = new AbortController()
const serving = serve(server, upper, { signal: controller.signal })

const client = dgram.createSocket('udp4')
const reply = new Promise((resolve) => client.once('message', (message) => resolve(message.toString())))
client.send('datagrams too\n', server.address.port, server.address.host)
console.log(`client received: ${await reply}`)
client.close()
controller.abort()
await serving
await server.close()
