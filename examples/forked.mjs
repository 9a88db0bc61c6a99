// ForkingMixIn's counterpart: each request runs in a child process, so a
// crash or a CPU-bound loop in one cannot harm the others.
// Run: node examples/forked.mjs
import net from 'node:net'
import { forked, serve, TCPServer } from '@socketserver/core'

const server = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
const controller = new AbortController()
const policy = forked({ module: new URL('./forked-handler.mjs', import.meta.url), maxChildren: 2 })
const serving = serve(server, null, { signal: controller.signal, policy })

const reply = await new Promise((resolve, reject) => {
  const client = net.connect(server.address.port, server.address.host, () => client.write('isolated'))
  let received = ''
  client.on('data', (chunk) => (received += chunk))
  client.on('end', () => resolve(received))
  client.on('error', reject)
})
process.stdout.write(reply)
console.log(`a child served it: ${policy.pids.length > 0 && !policy.pids.includes(process.pid)}`)
controller.abort()
await serving
console.log(`children left after serve(): ${policy.pids.length}`)
