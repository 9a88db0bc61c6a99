// The lowest level: a server is an async iterable of requests; no serve().
// Run: node examples/for-await.mjs

import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { UnixStreamServer } from '@socketserver/core'

const dir = mkdtempSync(join(tmpdir(), 'example-'))
const server = await UnixStreamServer.listen({ path: join(dir, 'hello.sock') })

const greeted = new Promise((resolve) => {
  const client = connect(server.address.path)
  let text = ''
  client.on('data', (chunk) => (text += chunk))
  client.on('end', () => resolve(text))
})

for await (const request of server) {
  request.socket.write('hello from a for await loop\n')
  await request.close()
  break // one request is enough for the example; the server stays open
}
process.stdout.write(await greeted)
await server.close() // removes the socket file
rmSync(dir, { recursive: true })
console.log('closed')
