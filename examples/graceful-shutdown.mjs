// Graceful shutdown: abort stops accepting at once; running requests get
// drainTimeoutMs to finish, then their signal aborts.
// Run: node examples/graceful-shutdown.mjs
import net from 'node:net'
import { DrainTimeoutError, serve, TCPServer } from '@socketserver/core'

const server = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
const controller = new AbortController()
let started
const requestStarted = new Promise((resolve) => (started = resolve))
const serving = serve(
  server,
  async (request) => {
    started()
    // A slow handler that honours its signal.
    await new Promise((resolve) => request.signal.addEventListener('abort', resolve))
    console.log(`handler stopped: ${request.signal.reason.name}`)
  },
  {
    signal: controller.signal,
    drainTimeoutMs: 200,
    handleError: (error) => console.log(`handleError: ${error instanceof DrainTimeoutError ? 'DrainTimeoutError' : error}`),
  },
)

const client = net.connect(server.address.port, server.address.host)
client.on('error', () => {})
const closed = new Promise((resolve) => client.on('close', resolve))
await requestStarted
controller.abort() // e.g. on SIGTERM
const refused = await new Promise((resolve) => {
  const late = net.connect(server.address.port, server.address.host)
  late.on('connect', () => resolve(false))
  late.on('error', () => resolve(true))
})
console.log(`new connections refused after abort: ${refused}`)
await serving
await closed
console.log('serve() resolved; the slow client was closed')
