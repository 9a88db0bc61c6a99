// How connections reach worker processes, measured: the spread of
// connections across N workers and the rate they are served at, for three
// ways of sharing one port (#19). Raw Node echo workers, so that only the
// way of sharing differs.
//
//   node bench/worker-spread.mjs [--workers N] [--seconds S]
//
//   shared     one listening socket, bound by the parent and inherited by
//              every worker, each accepting from it (what the supervisor does)
//   handoff    Node's cluster round-robin: the parent accepts and hands each
//              connection to the next worker over IPC
//   reuseport  a socket per worker with SO_REUSEPORT on the same port: the
//              kernel spreads connections by a hash of their addresses
//
// Each way is measured with the load generator's connection rate (64
// clients, a new connection per request) and its ping-pong (64 persistent
// connections): requests per second, and each worker's share of the
// connections it accepted.
import { execFileSync, fork, spawn } from 'node:child_process'
import cluster from 'node:cluster'
import { existsSync, mkdirSync } from 'node:fs'
import net from 'node:net'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { positiveNumber, readCommandLine, wholeNumber } from '../scripts/lib/args.mjs'

const here = dirname(fileURLToPath(import.meta.url))

if (cluster.isWorker || process.env.SPREAD_WORKER) await worker()
else await main()

/** A worker: an echo server on the socket its way gives it; reports how many connections it accepted. */
async function worker() {
  const way = process.env.SPREAD_WAY
  let accepted = 0
  const server = net.createServer((socket) => {
    accepted++
    socket.on('error', () => socket.destroy())
    socket.pipe(socket)
  })
  server.on('connection', () => {})
  const ready = () => process.send?.({ ready: true })
  if (way === 'shared') server.listen({ fd: 3 }, ready)
  else if (way === 'reuseport') {
    const { createRequire } = await import('node:module')
    const require = createRequire(join(here, '..', 'packages', 'core', 'package.json'))
    const { createReuseportFd } = require('node-unix-socket')
    server.listen({ fd: createReuseportFd(Number(process.env.SPREAD_PORT), '127.0.0.1') }, ready)
  } else server.listen({ port: Number(process.env.SPREAD_PORT), host: '127.0.0.1' }, ready)
  process.on('message', (message) => {
    if (message === 'count') {
      process.send?.({ accepted })
      accepted = 0
    }
  })
}

async function main() {
  const {
    values: { workers: workerCount, seconds },
  } = readCommandLine({
    usage: 'Usage: node bench/worker-spread.mjs [--workers N] [--seconds S]',
    options: {
      workers: { type: 'string', value: wholeNumber(1), default: 2 },
      seconds: { type: 'string', value: positiveNumber, default: 3 },
    },
  })
  const loadgen = join(here, '.build', 'loadgen')
  mkdirSync(join(here, '.build'), { recursive: true })
  if (!existsSync(loadgen)) execFileSync('gcc', ['-O2', '-o', loadgen, join(here, 'loadgen.c')])
  console.log(`${workerCount} workers, ${cpus().length} CPUs, ${seconds} s per figure, raw Node echo workers`)
  for (const way of ['shared', 'handoff', 'reuseport']) {
    for (const mode of ['connrate', 'pingpong']) {
      const { port, workers, stop } = await start(way, workerCount)
      // Not execFileSync: under handoff this process accepts every connection.
      const result = await run(loadgen, [mode, 'tcp', `127.0.0.1:${port}`, '64', '64', String(seconds), '0'])
      const counts = await Promise.all(workers.map((child) => ask(child)))
      const total = counts.reduce((sum, count) => sum + count, 0)
      const shares = counts.map((count) => `${((count / Math.max(total, 1)) * 100).toFixed(0)}%`).join(' / ')
      console.log(
        `${way.padEnd(10)} ${mode.padEnd(9)} ${(result.requests / result.seconds).toFixed(0).padStart(8)} req/s  p99 ${String(result.p99_us).padStart(6)} µs  connections per worker: ${shares} (of ${total})`,
      )
      await stop()
    }
  }
}

/** Starts the workers of one way; resolves once each listens. */
async function start(way, count) {
  const port = await freePort()
  const env = { ...process.env, SPREAD_WAY: way, SPREAD_PORT: String(port) }
  let workers
  let parentHandle
  if (way === 'handoff') {
    cluster.setupPrimary({ exec: fileURLToPath(import.meta.url) })
    cluster.schedulingPolicy = cluster.SCHED_RR
    workers = Array.from({ length: count }, () => cluster.fork(env).process)
  } else if (way === 'shared') {
    // Bound here and never listened on here (so this process never accepts),
    // as cluster's primary does; each worker listens on it and accepts.
    parentHandle = net._createServerHandle('127.0.0.1', port, 4)
    if (typeof parentHandle === 'number') throw new Error(`Cannot bind 127.0.0.1:${port}: ${parentHandle}`)
    workers = Array.from({ length: count }, () =>
      spawn(process.execPath, [fileURLToPath(import.meta.url)], {
        env: { ...env, SPREAD_WORKER: '1' },
        stdio: ['ignore', 'inherit', 'inherit', parentHandle.fd, 'ipc'],
      }),
    )
  } else {
    workers = Array.from({ length: count }, () =>
      fork(fileURLToPath(import.meta.url), [], { env: { ...env, SPREAD_WORKER: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    )
  }
  await Promise.all(workers.map((child) => new Promise((resolve) => child.on('message', (message) => message?.ready && resolve()))))
  return {
    port,
    workers,
    async stop() {
      await Promise.all(
        workers.map(
          (child) =>
            new Promise((resolve) => {
              child.once('exit', resolve)
              child.kill('SIGKILL')
            }),
        ),
      )
      parentHandle?.close()
    },
  }
}

/** Runs the load generator; resolves with its figures. */
function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
    })
    child.once('error', reject)
    child.once('exit', () => resolve(JSON.parse(out.trim().split('\n').at(-1))))
  })
}

function ask(child) {
  return new Promise((resolve) => {
    const onMessage = (message) => {
      if (typeof message?.accepted !== 'number') return
      child.off('message', onMessage)
      resolve(message.accepted)
    }
    child.on('message', onMessage)
    child.send('count')
  })
}

function freePort() {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}
