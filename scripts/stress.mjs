// `pnpm stress`: every transport x policy under sustained load with clients
// that misbehave at random (abrupt resets, stalls, half-closes, oversized and
// unanswerable datagrams). For each case it prints what was served, the
// failures that were not the client's own doing (must be 0), the server's RSS
// at start, middle and end, its descriptors at end against start, and the
// child processes left (must be 0).
//   node scripts/stress.mjs [--seconds S] [--cases tcp:pooled,udp:forked,...]
// S is per case, 60 by default (25 cases: 25 minutes); --help lists the
// cases. Any other argument, or a bad value, is refused with exit code 2
// before anything starts. Memory growth (end RSS within 10% of middle RSS)
// is judged only in runs of 20 s or more per case: in shorter ones the heap
// is still growing to its working size (a forked() parent's RSS climbs for
// about 10 s, then stays flat). Each sample follows a full GC, and the
// server runs with V8's young generation capped at 2 MB
// (--max-semi-space-size=2): otherwise V8 keeps growing it, toward 16 MB,
// over minutes of allocation, and RSS measures that committed but unused
// space rather than what the server keeps (seen: heap used flat at 6-8 MB
// while heapTotal went from 9 to 28 MB).
import { spawn } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import dgram from 'node:dgram'
import { createRequire } from 'node:module'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import tls from 'node:tls'
import { fileURLToPath } from 'node:url'
import { listOf, positiveNumber, readCommandLine } from './lib/args.mjs'

// tls: TCP behind withTLS() (under forked(), the plaintext relayed to the
// children); proxy: TCP behind withProxyProtocol() (every client sends a
// PROXY v1 header first).
// rpc, rpcudp: ONC RPC calls (record-marked over TCP; over UDP) to
// rpcHandler(); misbehaving clients send half records, garbage records and
// datagrams, and stall.
const TRANSPORTS = ['tcp', 'unix', 'udp', 'unixdgram', 'tls', 'proxy', 'rpc', 'rpcudp']
// tcp:processes: a supervisor and two workers (pooled), rolled every 2 s.
const casesOf = (transport) =>
  [...['sequential', 'pooled', 'forked'], ...(transport === 'tcp' ? ['processes'] : [])].map((policy) => `${transport}:${policy}`)
const ALL = TRANSPORTS.flatMap(casesOf)
const USAGE = `Usage: node scripts/stress.mjs [--seconds S] [--cases CASE,...]   (or: pnpm stress [...])
  --seconds S        seconds per case, a positive number (default 60; memory
                     growth is judged only from 20)
  --cases CASE,...   the cases to run, comma-separated (default: all ${ALL.length}):
${TRANSPORTS.map((transport) => `                       ${casesOf(transport).join(' ')}`).join('\n')}
  -h, --help         print this and exit`
const { values } = readCommandLine({
  usage: USAGE,
  options: {
    seconds: { type: 'string', value: positiveNumber, default: 60 },
    cases: { type: 'string', value: listOf(ALL, 'cases'), default: ALL },
  },
})
const { seconds, cases } = values
const judgeMemory = seconds >= 20
const CLIENTS = 16
// node-unix-socket delivers to only about a dozen of its sockets open at once
// in one process, so the Unix datagram cases use fewer concurrent clients.
const clientsFor = (transport) => (transport === 'unixdgram' ? 8 : CLIENTS)
const require = createRequire(new URL('../packages/core/package.json', import.meta.url))
const { DgramSocket } = require('node-unix-socket')

function alive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function startServer(transport, policy) {
  const script = fileURLToPath(new URL(policy === 'processes' ? './stress-supervised.mjs' : './stress-server.mjs', import.meta.url))
  const child = spawn(process.execPath, ['--expose-gc', '--max-semi-space-size=2', script, transport, policy], {
    stdio: ['ignore', 'pipe', 'inherit'],
    // A short run still rolls the workers (at least twice).
    env: { ...process.env, STRESS_ROLL_MS: String(Math.max(250, Math.min(2_000, (seconds * 1000) / 3))) },
  })
  const lines = createInterface({ input: child.stdout })
  const waiting = []
  let ready
  const readyLine = new Promise((resolve) => (ready = resolve))
  lines.on('line', (line) => {
    if (line.startsWith('READY ')) ready(line.slice(6))
    if (line.startsWith('STATS ')) waiting.shift()?.(line.slice(6).split(' '))
  })
  const address = await readyLine
  const stats = () =>
    new Promise((resolve) => {
      waiting.push(([rss, fds, heap, pids]) =>
        resolve({
          rssMb: Number(rss) / 1024,
          heapMb: Number(heap) / 1024,
          fds: Number(fds),
          pids: pids ? pids.split(',').map(Number) : [],
        }),
      )
      child.kill('SIGUSR2')
    })
  return { child, address, stats }
}

/** One stream exchange; resolves true when a well-behaved client got its echo. */
function streamClient(transport, address, deadline, roll = Math.random()) {
  const target = transport === 'unix' ? { path: address } : { host: address.split(':')[0], port: Number(address.split(':')[1]) }
  return new Promise((resolve) => {
    const socket = transport === 'tls' ? tls.connect({ ...target, rejectUnauthorized: false }) : net.connect(target)
    // Behind a proxy: every client's header first, as HAProxy sends it.
    if (transport === 'proxy') socket.write(`PROXY TCP4 203.0.113.${randomInt(1, 255)} 198.51.100.1 ${randomInt(1, 65_536)} 7\r\n`)
    const payload = randomBytes(randomInt(1, 8_192))
    let received = 0
    let settled = false
    const finish = (outcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(outcome)
    }
    const timer = setTimeout(() => finish(roll < 0.7 ? 'failed' : 'misbehaved'), Math.max(0, deadline - Date.now()) + 5_000)
    socket.on('error', () => finish(roll < 0.7 ? 'failed' : 'misbehaved'))
    socket.on(transport === 'tls' ? 'secureConnect' : 'connect', () => {
      if (roll < 0.7)
        socket.end(payload) // good, half-closing after the request
      else if (roll < 0.85)
        socket.write(payload, () => (transport === 'unix' || transport === 'tls' ? socket.destroy() : socket.resetAndDestroy())) // abrupt reset
      // else: stall: send nothing, the server's timeoutMs closes it
    })
    socket.on('data', (chunk) => (received += chunk.length))
    socket.on('close', () => finish(roll < 0.7 ? (received === payload.length ? 'served' : 'failed') : 'misbehaved'))
  })
}

/** An ECHO call of the stress program (scripts/stress-rpc-module.mjs), record-marked for TCP. */
function rpcCall(xid, payload, framed) {
  const padded = (payload.length + 3) & ~3
  const call = Buffer.alloc(44 + padded)
  const words = [xid, 0, 2, 0x2000_0777, 1, 1, 0, 0, 0, 0, payload.length]
  for (const [i, word] of words.entries()) call.writeUInt32BE(word >>> 0, i * 4)
  payload.copy(call, 44)
  if (!framed) return call
  const mark = Buffer.alloc(4)
  mark.writeUInt32BE((0x8000_0000 | call.length) >>> 0)
  return Buffer.concat([mark, call])
}

/** The reply to rpcCall(): accepted, SUCCESS, the same bytes. */
function rpcReplyMatches(reply, xid, payload) {
  return (
    reply.length >= 28 &&
    reply.readUInt32BE(0) === xid >>> 0 &&
    reply.readUInt32BE(4) === 1 &&
    reply.readUInt32BE(8) === 0 &&
    reply.readUInt32BE(20) === 0 &&
    reply.readUInt32BE(24) === payload.length &&
    reply.subarray(28, 28 + payload.length).equals(payload)
  )
}

/** One RPC connection: a good client calls ECHO (its record in up to 3 fragments); others send half a record and reset, a garbage record, or stall. */
function rpcStreamClient(address, deadline) {
  const roll = Math.random()
  const [host, port] = address.split(':')
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port) })
    const payload = randomBytes(randomInt(1, 8_192))
    const xid = randomInt(0, 2 ** 32)
    const call = rpcCall(xid, payload, false)
    let received = Buffer.alloc(0)
    let settled = false
    const finish = (outcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(outcome)
    }
    const timer = setTimeout(() => finish(roll < 0.7 ? 'failed' : 'misbehaved'), Math.max(0, deadline - Date.now()) + 5_000)
    socket.on('error', () => finish(roll < 0.7 ? 'failed' : 'misbehaved'))
    socket.on('connect', () => {
      if (roll < 0.7) {
        // The record in 1 to 3 fragments, as a client may send it.
        const cuts = [0, ...Array.from({ length: randomInt(0, 3) }, () => randomInt(1, call.length)).sort((a, b) => a - b), call.length]
        const fragments = []
        for (let i = 0; i + 1 < cuts.length; i++) {
          const part = call.subarray(cuts[i], cuts[i + 1])
          const mark = Buffer.alloc(4)
          mark.writeUInt32BE(((i + 2 === cuts.length ? 0x8000_0000 : 0) | part.length) >>> 0)
          fragments.push(mark, part)
        }
        socket.write(Buffer.concat(fragments))
      } else if (roll < 0.8) {
        socket.write(rpcCall(xid, payload, true).subarray(0, randomInt(1, call.length)), () => socket.resetAndDestroy())
      } else if (roll < 0.9) {
        const garbage = randomBytes(randomInt(0, 256))
        const mark = Buffer.alloc(4)
        mark.writeUInt32BE((0x8000_0000 | garbage.length) >>> 0)
        socket.end(Buffer.concat([mark, garbage]))
      } else {
        socket.write(rpcCall(xid, payload, true).subarray(0, 10)) // half a record, then nothing: timeoutMs ends it
      }
    })
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk])
      if (roll < 0.7 && received.length >= 4 && received.length >= 4 + (received.readUInt32BE(0) & 0x7fff_ffff)) {
        finish(rpcReplyMatches(received.subarray(4), xid, payload) ? 'served' : 'failed')
      }
    })
    socket.on('close', () => finish(roll < 0.7 ? 'failed' : 'misbehaved'))
  })
}

/** One RPC datagram: a good client calls ECHO and waits for the reply; a misbehaving one sends garbage. */
function rpcDatagramClient(address) {
  const roll = Math.random()
  const [host, port] = address.split(':')
  const socket = dgram.createSocket('udp4')
  const payload = randomBytes(randomInt(0, 8_192))
  const xid = randomInt(0, 2 ** 32)
  return new Promise((resolve) => {
    const done = (outcome) => {
      clearTimeout(timer)
      socket.close()
      resolve(outcome)
    }
    const timer = setTimeout(() => done(roll < 0.8 ? 'failed' : 'misbehaved'), roll < 0.8 ? 3_000 : 0)
    socket.on('message', (reply) => {
      if (roll < 0.8) done(rpcReplyMatches(reply, xid, payload) ? 'served' : 'failed')
    })
    socket.send(roll < 0.8 ? rpcCall(xid, payload, false) : randomBytes(randomInt(0, 128)), Number(port), host)
  })
}

/** One datagram exchange. */
function datagramClient(socketFor) {
  const roll = Math.random()
  const payload = randomBytes(roll < 0.8 ? randomInt(0, 1_024) : 2_000) // 2,000 > maxPacketSize: dropped by design
  return new Promise((resolve) => {
    const { send, onReply, close } = socketFor()
    const timer = setTimeout(() => {
      close()
      resolve(roll < 0.8 ? 'failed' : 'misbehaved')
    }, 3_000)
    onReply((data) => {
      clearTimeout(timer)
      close()
      resolve(roll < 0.8 && data.length === payload.length ? 'served' : 'failed')
    })
    const sentAtOnce = send(payload)
    if (roll >= 0.8) {
      clearTimeout(timer)
      close()
      resolve('misbehaved')
      return
    }
    if (!sentAtOnce) {
      // The server's receive queue was full, so the kernel pushed back
      // (EAGAIN), and node-unix-socket stops reading a socket after that:
      // this socket would never see its reply. Try again on a fresh one.
      clearTimeout(timer)
      close()
      resolve('pushedBack')
    }
  })
}

function datagramSocketFactory(transport, address) {
  let next = 0
  return () => {
    if (transport === 'udp') {
      const socket = dgram.createSocket('udp4')
      const [host, port] = address.split(':')
      let handler = () => {}
      socket.on('message', (data) => handler(data))
      const send = (data) => {
        socket.send(data, Number(port), host)
        return true
      }
      return { send, onReply: (fn) => (handler = fn), close: () => socket.close() }
    }
    const socket = new DgramSocket()
    const own = join(tmpdir(), `ss-stress-client-${process.pid}-${next++}.sock`)
    socket.bind(own)
    let handler = () => {}
    socket.on('data', (data) => handler(data))
    socket.on('error', () => {})
    return {
      // Whether the datagram left at once (node-unix-socket calls back
      // synchronously unless the send would block).
      send: (data) => {
        let done = false
        socket.sendTo(data, 0, data.length, address, (error) => {
          done = true
          if (error && process.env.STRESS_LOG_ERRORS) console.error('client send error', error.message)
        })
        return done
      },
      onReply: (fn) => (handler = fn),
      close: () => {
        socket.close()
        import('node:fs').then(({ rmSync }) => rmSync(own, { force: true }))
      },
    }
  }
}

/** The server's own descriptors: all of them less one per child (its channel). */
const ownFds = (stats) => stats.fds - stats.pids.length
const rows = []
for (const name of cases) {
  const [transport, policy] = name.split(':')
  const server = await startServer(transport, policy)
  // One good exchange first, so that what a server makes once, on its first
  // request, is there at the start too (under forked(), TLS's relay
  // listener): the descriptors at the end are compared with these.
  if (transport === 'rpc') await rpcStreamClient(server.address, Date.now() + 10_000)
  else if (transport !== 'udp' && transport !== 'unixdgram' && transport !== 'rpcudp')
    await streamClient(transport, server.address, Date.now() + 10_000, 0)
  // A forked() child that retires counts among the children until it exits,
  // but its channel's descriptor is closed first: a sample then reads one
  // descriptor low. The start figure is taken once two samples agree (at
  // most 2 s), so that it is not such a low one (seen once in CI: rpc:forked
  // 20 own descriptors at start, 21 at the end, none leaked).
  let start = await server.stats()
  for (const settled = Date.now() + 2_000; Date.now() < settled; ) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    const again = await server.stats()
    const agree = ownFds(again) === ownFds(start) && again.pids.length === start.pids.length
    start = again
    if (agree) break
  }
  const counts = { served: 0, failed: 0, misbehaved: 0, pushedBack: 0 }
  const deadline = Date.now() + seconds * 1000
  let middle
  const middleTimer = setTimeout(async () => (middle = await server.stats()), (seconds * 1000) / 2)
  const datagramSocket = transport === 'udp' || transport === 'unixdgram' ? datagramSocketFactory(transport, server.address) : undefined
  await Promise.all(
    Array.from({ length: clientsFor(transport) }, async () => {
      while (Date.now() < deadline) {
        const outcome =
          transport === 'rpc'
            ? await rpcStreamClient(server.address, deadline)
            : transport === 'rpcudp'
              ? await rpcDatagramClient(server.address)
              : transport !== 'udp' && transport !== 'unixdgram'
                ? await streamClient(transport, server.address, deadline)
                : await datagramClient(datagramSocket)
        counts[outcome]++
      }
    }),
  )
  clearTimeout(middleTimer)
  middle ??= await server.stats()
  // The clients are done, but the server may still be closing their
  // connections (a relayed TLS connection closes through a child and back):
  // the end figure is taken once descriptors are back, or after 5 s.
  let end = await server.stats()
  for (const settled = Date.now() + 5_000; ownFds(end) > ownFds(start) && Date.now() < settled; ) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    end = await server.stats()
  }
  const pids = [...new Set([...start.pids, ...middle.pids, ...end.pids])]
  server.child.kill('SIGTERM')
  await new Promise((resolve) => server.child.once('exit', resolve))
  const childrenLeft = pids.filter(alive).length
  rows.push({ name, ...counts, start, middle, end, childrenLeft, fdsGrew: ownFds(end) > ownFds(start) })
  console.log(
    `${name.padEnd(22)} served ${String(counts.served).padStart(6)}  failed ${String(counts.failed).padStart(3)}  misbehaving ${String(counts.misbehaved).padStart(5)}${counts.pushedBack > 0 ? `  pushed back ${counts.pushedBack}` : ''}  RSS MB ${start.rssMb.toFixed(0)}/${middle.rssMb.toFixed(0)}/${end.rssMb.toFixed(0)} (heap ${start.heapMb.toFixed(0)}/${middle.heapMb.toFixed(0)}/${end.heapMb.toFixed(0)})  fds ${start.fds}->${end.fds} (${start.pids.length}->${end.pids.length} children)  children left ${childrenLeft}`,
  )
}
const bad = rows.filter(
  (row) => row.failed > 0 || row.childrenLeft > 0 || row.fdsGrew || (judgeMemory && row.end.rssMb > row.middle.rssMb * 1.1),
)
if (!judgeMemory) console.log(`stress: memory growth not judged (runs of ${seconds} s per case; 20 s or more needed)`)
console.log(
  bad.length === 0 ? 'stress: all cases held' : `stress: ${bad.length} case(s) did not hold: ${bad.map((row) => row.name).join(', ')}`,
)
process.exitCode = bad.length === 0 ? 0 : 1
