// The baseline: a bare Node echo, the ceiling for a library built on Node.
//   node raw-node.mjs TRANSPORT SERVICE   (TRANSPORT tcp | unix | udp | unixdgram)
// Unix datagrams use node-unix-socket directly, as our server does.
import dgram from 'node:dgram'
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { collectOnRequest } from './collect-on-request.mjs'

const [transport, service] = process.argv.slice(2)
collectOnRequest()
const path = join(tmpdir(), `ss-bench-raw-${process.pid}.sock`)
rmSync(path, { force: true })
const upper = (socket) => {
  let pending = ''
  socket.setEncoding('latin1')
  socket.on('data', (text) => {
    pending += text
    for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n')) {
      socket.write(pending.slice(0, end + 1).toUpperCase())
      pending = pending.slice(end + 1)
    }
  })
}
// The leanest echo that still honours backpressure (as ours does): write
// each chunk, pause reading while the socket's buffer is full. socket.pipe()
// was the baseline before, but its stream machinery made it slower than our
// library on 16 KiB messages, so it was no ceiling.
const echo = (socket) => {
  socket.on('data', (chunk) => {
    if (!socket.write(chunk)) {
      socket.pause()
      socket.once('drain', () => socket.resume())
    }
  })
  socket.on('end', () => socket.end())
}
const onConnection = (socket) => {
  socket.on('error', () => {})
  if (service === 'upper') upper(socket)
  else echo(socket)
}
if (transport === 'tcp' || transport === 'unix') {
  const server = net.createServer(onConnection)
  server.listen(transport === 'tcp' ? { host: '127.0.0.1', port: 0, backlog: 65535 } : { path, backlog: 65535 }, () => {
    const a = server.address()
    console.log(`READY ${typeof a === 'string' ? a : `${a.address}:${a.port}`}`)
  })
  process.on('SIGTERM', () => server.close(() => process.exit(0)))
} else if (transport === 'udp') {
  const socket = dgram.createSocket('udp4')
  socket.on('message', (data, rinfo) => socket.send(data, rinfo.port, rinfo.address))
  socket.bind(0, '127.0.0.1', () => console.log(`READY 127.0.0.1:${socket.address().port}`))
  process.on('SIGTERM', () => socket.close(() => process.exit(0)))
} else {
  const require = createRequire(new URL('../../packages/core/package.json', import.meta.url))
  const { DgramSocket } = require('node-unix-socket')
  const socket = new DgramSocket()
  socket.bind(path)
  socket.on('data', (data, from) => from && socket.sendTo(data, 0, data.length, from, () => {}))
  console.log(`READY ${path}`)
  process.on('SIGTERM', () => {
    socket.close()
    rmSync(path, { force: true })
    process.exit(0)
  })
}
