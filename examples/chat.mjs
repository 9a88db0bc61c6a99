// A line-based chat: each line a client sends goes to every other client.
// On stop every client gets a goodbye line and serve() resolves at once,
// though no client has hung up: an idle connection's read ends on stop.
// Run: node examples/chat.mjs
import net from 'node:net'
import { createInterface } from 'node:readline'
import { pooled, serve, TCPServer } from '@socketserver/core'
import { StreamRequestHandler } from '@socketserver/handlers'

// Past this many bytes waiting for a client that does not read, its
// messages are dropped: one slow reader must not grow the server's memory.
const MAX_QUEUED_BYTES = 64 * 1024

/** A handler class for one room: the class closes over the room's members. */
function chatHandler(members) {
  let joined = 0
  return class ChatHandler extends StreamRequestHandler {
    async handle() {
      const name = `client ${++joined}`
      const socket = this.request.socket
      members.add(socket)
      try {
        await this.wfile.write(`welcome, you are ${name}\n`)
        // Ends when the client ends its side, or on stop while it waits
        // for a line (a half-received line is finished first).
        for await (const line of this.rfile.lines()) {
          const message = `${name}: ${line.toString().trimEnd()}\n`
          for (const other of members) {
            // A closed connection would lose the write; a full one drops it.
            if (other === socket || !other.writable || other.writableLength > MAX_QUEUED_BYTES) continue
            other.write(message) // false means "buffered": not awaited, so no sender waits on a slow reader
          }
        }
        if (this.request.stopping.aborted) await this.wfile.write('server is stopping, bye\n')
      } finally {
        members.delete(socket)
      }
    }
  }
}

const server = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
const controller = new AbortController()
const errors = []
const serving = serve(server, chatHandler(new Set()), {
  signal: controller.signal,
  policy: pooled({ concurrency: 100 }),
  handleError: (error) => errors.push(error),
})

/** A client that reads the server's lines one at a time. */
async function join() {
  const socket = net.connect(server.address.port, server.address.host)
  const lines = createInterface({ input: socket })[Symbol.asyncIterator]()
  const next = async () => (await lines.next()).value
  await next() // the welcome: the server has counted this client in
  return { socket, next }
}

const clients = [await join(), await join(), await join()]
clients[0].socket.write('hello\n')
for (const [i, client] of clients.entries()) {
  if (i > 0) console.log(`client ${i + 1} got: ${await client.next()}`)
}

controller.abort() // e.g. on SIGTERM; the clients stay connected
await serving
const last = await Promise.all(clients.map((client) => client.next()))
console.log(`serve() resolved; every client got: ${last.every((line) => line === 'server is stopping, bye') ? 'bye' : last}`)
// A client that held the stop up would show here as a DrainTimeoutError.
console.log(`errors reported: ${errors.length}`)
for (const client of clients) client.socket.destroy()
