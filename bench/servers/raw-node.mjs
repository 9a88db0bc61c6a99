// The baseline: a bare Node echo, the ceiling for a library built on Node.
//   node raw-node.mjs TRANSPORT SERVICE   (TRANSPORT tcp | unix | udp | unixdgram)
// SERVICE echo (the default); upper (read a line, reply with it upper-cased,
// in callbacks); upper-async (the same as an async/await loop: a promise per
// line read and per write, the least an async API costs, no library);
// echo-promise (UDP: each reply's completion as a promise, as a promise API
// returns it); upper-pipelined (upper for clients that pipeline: every whole
// line of a chunk answered in one write); lp (length-prefixed frames: a 4-byte
// big-endian length and a payload, answered with the same length and the
// payload upper-cased, every whole frame of a chunk in one write).
// Unix datagrams use node-unix-socket directly, as our server does. A wrong
// argument, or a service the transport does not have, is refused with exit
// code 2.
import dgram from 'node:dgram'
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { oneOf, readCommandLine } from '../../scripts/lib/args.mjs'
import { collectOnRequest } from './collect-on-request.mjs'
import { upperAscii } from './upper-ascii.mjs'

const STREAM_SERVICES = ['echo', 'upper', 'upper-async', 'upper-pipelined', 'lp']
const SERVICES_OF = {
  tcp: [...STREAM_SERVICES, 'echo-tls'],
  unix: STREAM_SERVICES,
  udp: ['echo', 'echo-promise'],
  unixdgram: ['echo'],
}
const {
  positionals: [transport, service],
} = readCommandLine({
  usage: `Usage: node bench/servers/raw-node.mjs TRANSPORT [SERVICE]   (started by bench/run.mjs)
  TRANSPORT   tcp | unix | udp | unixdgram
  SERVICE     echo (the default); upper, upper-async, upper-pipelined or lp (tcp, unix);
              echo-promise (udp); echo-tls (tcp: tls.createServer with bench/.build's certificate)
  -h, --help  print this and exit`,
  positionals: [
    { name: 'TRANSPORT', value: oneOf(Object.keys(SERVICES_OF)) },
    { name: 'SERVICE', value: oneOf([...STREAM_SERVICES, 'echo-promise', 'echo-tls']), default: 'echo' },
  ],
  check: ({ positionals: [transport, service] }) =>
    SERVICES_OF[transport].includes(service)
      ? undefined
      : `Cannot use SERVICE ${JSON.stringify(service)} on ${transport}: expected ${list(SERVICES_OF[transport])}`,
})
function list(names) {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`
}
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
// What the line case costs any async/await API on raw Node: the reader
// hands each line over as a promise, the loop awaits each write (resolved at
// once unless the socket's buffer is full). Written as small as it can be.
const upperAsync = (socket) => {
  let buffered = null
  let ended = false
  let waiting = null
  const takeLine = () => {
    const end = buffered === null ? -1 : buffered.indexOf(10)
    if (end === -1) return null
    const line = buffered.subarray(0, end + 1)
    buffered = end + 1 === buffered.length ? null : buffered.subarray(end + 1)
    return line
  }
  const wake = (line) => {
    const resolve = waiting
    waiting = null
    resolve(line)
  }
  socket.on('data', (chunk) => {
    buffered = buffered === null ? chunk : Buffer.concat([buffered, chunk])
    const line = waiting && takeLine()
    if (line) wake(line)
  })
  socket.on('end', () => {
    ended = true
    if (waiting) wake(null)
  })
  // A line, or null at the end (a last line without newline is dropped).
  const readline = () => {
    const line = takeLine()
    if (line || ended) return Promise.resolve(line)
    return new Promise((resolve) => (waiting = resolve))
  }
  const write = (text) => (socket.write(text) ? Promise.resolve() : new Promise((resolve) => socket.once('drain', resolve)))
  ;(async () => {
    for (let line = await readline(); line !== null; line = await readline()) await write(line.toString('latin1').toUpperCase())
    socket.end()
  })()
}
// The pipelined cases' ceilings: the fastest honest code for a client that
// keeps many requests in flight. Each chunk is parsed through its last whole
// request, the partial rest carried to the next chunk; all of the chunk's
// replies leave in ONE write, and reading pauses while the socket's buffer
// is full. Nagle's algorithm is off, as our TCPServer has it by default.
// Strings for lines: of byte loops, Buffer.concat and a list joined, this
// was the fastest (about 1.1 to 1.3 x the others, 64 B lines x 50 x 16).
const upperPipelined = (socket) => {
  let pending = ''
  socket.setNoDelay(true)
  socket.setEncoding('latin1')
  socket.on('data', (text) => {
    const data = pending + text
    let replies = ''
    let start = 0
    for (let end = data.indexOf('\n'); end !== -1; end = data.indexOf('\n', start)) {
      replies += data.slice(start, end + 1).toUpperCase()
      start = end + 1
    }
    pending = data.slice(start)
    if (replies.length > 0) writeHonouringBackpressure(socket, replies, 'latin1')
  })
}
// A frame's reply is as long as the frame, so one buffer the chunk's size
// holds all of the chunk's replies.
const lengthPrefixed = (socket) => {
  let pending = null
  socket.setNoDelay(true)
  socket.on('data', (chunk) => {
    const data = pending === null ? chunk : Buffer.concat([pending, chunk])
    const replies = Buffer.allocUnsafe(data.length)
    let start = 0
    let at = 0
    while (data.length - start >= 4) {
      const end = start + 4 + data.readUInt32BE(start)
      if (end > data.length) break
      replies.set(data.subarray(start, start + 4), at)
      at = upperAscii(data, start + 4, end, replies, at + 4)
      start = end
    }
    pending = start === data.length ? null : data.subarray(start)
    if (at > 0) writeHonouringBackpressure(socket, replies.subarray(0, at))
  })
}
const writeHonouringBackpressure = (socket, data, encoding) => {
  if (!socket.write(data, encoding)) {
    socket.pause()
    socket.once('drain', () => socket.resume())
  }
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
  else if (service === 'upper-async') upperAsync(socket)
  else if (service === 'upper-pipelined') upperPipelined(socket)
  else if (service === 'lp') lengthPrefixed(socket)
  else echo(socket)
}
if (service === 'echo-tls') {
  // TLS at its barest: Node's own tls.Server, echoing as the plain echo does.
  const { readFileSync } = await import('node:fs')
  const tls = await import('node:tls')
  const build = new URL('../.build/', import.meta.url)
  const server = tls.createServer(
    { key: readFileSync(new URL('tls-key.pem', build)), cert: readFileSync(new URL('tls-cert.pem', build)) },
    (socket) => {
      socket.on('error', () => {})
      echo(socket)
    },
  )
  server.on('tlsClientError', () => {})
  server.listen({ host: '127.0.0.1', port: 0, backlog: 65535 }, () => console.log(`READY 127.0.0.1:${server.address().port}`))
  process.on('SIGTERM', () => server.close(() => process.exit(0)))
} else if (transport === 'tcp' || transport === 'unix') {
  // The async loop ends its side itself, after its last write.
  const server = net.createServer({ allowHalfOpen: service === 'upper-async' }, onConnection)
  server.listen(transport === 'tcp' ? { host: '127.0.0.1', port: 0, backlog: 65535 } : { path, backlog: 65535 }, () => {
    const a = server.address()
    console.log(`READY ${typeof a === 'string' ? a : `${a.address}:${a.port}`}`)
  })
  process.on('SIGTERM', () => server.close(() => process.exit(0)))
} else if (transport === 'udp') {
  const socket = dgram.createSocket('udp4')
  const settle = () => {}
  const reply = (data, rinfo) =>
    new Promise((resolve, reject) => socket.send(data, rinfo.port, rinfo.address, (error) => (error ? reject(error) : resolve())))
  if (service === 'echo-promise') socket.on('message', (data, rinfo) => reply(data, rinfo).then(settle, settle))
  else socket.on('message', (data, rinfo) => socket.send(data, rinfo.port, rinfo.address))
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
