// A duplex handler: the request is an it-pipe Duplex, so a transform between
// its source and its sink is a whole handler.
// Run: node examples/duplex-pipe.mjs
import net from 'node:net'
import { serve, TCPServer } from '@socketserver/core'
import { pipe } from 'it-pipe'

async function* reverseLines(source) {
  let pending = ''
  for await (const chunk of source) {
    pending += Buffer.from(chunk).toString()
    const lines = pending.split('\n')
    pending = lines.pop()
    for (const line of lines) yield Buffer.from(`${[...line].reverse().join('')}\n`)
  }
}

const server = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
const controller = new AbortController()
const serving = serve(server, (request) => pipe(request, reverseLines, request), { signal: controller.signal })

const reply = await new Promise((resolve, reject) => {
  const client = net.connect(server.address.port, server.address.host, () => client.end('stressed\ndesserts\n'))
  let received = ''
  client.on('data', (chunk) => (received += chunk))
  client.on('end', () => resolve(received))
  client.on('error', reject)
})
process.stdout.write(reply)
controller.abort()
await serving
