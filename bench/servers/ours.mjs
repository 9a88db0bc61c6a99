// The server under test: this library. Usage:
//   node ours.mjs TRANSPORT POLICY SERVICE
//   TRANSPORT tcp | unix | udp | unixdgram; POLICY sequential | pooled | forked | forked:N;
//   SERVICE one of SERVICES below (with forked: echo and the wrapped echoes,
//   whose children load the echo module)
// Prints "READY <address>"; SIGTERM stops it. SIGUSR2 aborts serve() and
// prints "SHUTDOWN_MS <ms>": the time until the listener was closed. A wrong
// argument is refused with exit code 2 before the library is loaded.
import { fileURLToPath } from 'node:url'
import { oneOf, readCommandLine, wholeNumber } from '../../scripts/lib/args.mjs'
import { collectOnRequest } from './collect-on-request.mjs'
import { upperAscii } from './upper-ascii.mjs'

// The services, by name: a line for the usage, and `handler`, which makes
// the handler once the library is loaded (given the core and handlers
// packages' modules; it may be async).
// Another style or package, such as framing helpers, is one more entry here
// (import what it needs inside `handler`), then a case in run.mjs.
const SERVICES = {
  echo: {
    about: 'request.sink(request.source), or request.reply(data)',
    handler: () => (request) => (request.kind === 'datagram' ? request.reply(request.data) : request.sink(request.source)),
  },
  'rpc-kv': {
    about: "rpcHandler() of examples/key-value/kv.x (bench/.build's kv.js), NULL and KV_ECHO",
    handler: async () => {
      const { rpcHandler } = await import('../../packages/oncrpc/dist/index.js')
      const { implementKV_PROG } = await import('../.build/kv.js')
      const fail = () => {
        throw new Error('not in the bench')
      }
      return rpcHandler(
        implementKV_PROG({
          KV_V1: { KV_PUT: fail, KV_GET: fail, KV_DELETE: fail, KV_LIST: fail, KV_COUNT: fail, KV_ECHO: (value) => value },
        }),
      )
    },
  },
  'echo-tls': {
    about: "echo behind withTLS() (bench/.build's certificate)",
    handler: () => (request) => request.sink(request.source),
    // Under forked, the children's module: the wrapper stays in the parent.
    childModule: 'echo',
    // The warm-up exchange speaks TLS.
    tls: true,
    wrap: async (server) => {
      const { readFileSync } = await import('node:fs')
      const { withTLS } = await import('../../packages/tls/dist/index.js')
      const build = new URL('../.build/', import.meta.url)
      return withTLS(server, { key: readFileSync(new URL('tls-key.pem', build)), cert: readFileSync(new URL('tls-cert.pem', build)) })
    },
  },
  'echo-tls-child': {
    about: 'TLS ended in the handler over the raw connection (with forked: in the child, no relay)',
    handler: async () => (await import('./echo-tls-child-module.mjs')).default,
    tls: true,
  },
  'echo-proxied': {
    about: 'echo behind withProxyProtocol() (each connection starts with a PROXY v2 header)',
    handler: () => (request) => request.sink(request.source),
    childModule: 'echo',
    // The server a service runs on, when it is not the plain one.
    wrap: async (server) => {
      const { withProxyProtocol } = await import('../../packages/proxy-protocol/dist/index.js')
      return withProxyProtocol(server, { version: 'v2' })
    },
  },
  upper: {
    about: 'readline() and await write() of it upper-cased, in a loop',
    handler: ({ handlers: { StreamRequestHandler } }) =>
      class Upper extends StreamRequestHandler {
        async handle() {
          for (;;) {
            const line = await this.rfile.readline()
            if (line.length === 0) return
            await this.wfile.write(line.toString('latin1').toUpperCase())
          }
        }
      },
  },
  'upper-lines': {
    about: "the README quick start's UpperHandler, for await over lines()",
    // As the README has it, word for word (less TypeScript's `override`).
    handler: ({ handlers: { StreamRequestHandler } }) =>
      class UpperHandler extends StreamRequestHandler {
        async handle() {
          for await (const line of this.rfile.lines()) {
            await this.wfile.write(Buffer.from(line).toString().toUpperCase())
          }
        }
      },
  },
  'upper-batches': {
    about: 'lineBatches(request.source): every line a chunk completed, answered at once, one await write() per batch',
    handler: ({ handlers: { StreamRequestHandler, lineBatches } }) =>
      class UpperBatches extends StreamRequestHandler {
        async handle() {
          for await (const batch of lineBatches(this.request.source)) {
            let size = 0
            for (const line of batch) size += line.length
            const reply = Buffer.allocUnsafe(size)
            let at = 0
            for (const line of batch) at = upperAscii(line, 0, line.length, reply, at)
            await this.wfile.write(reply)
          }
        }
      },
  },
  'lp-batches': {
    about: 'lengthPrefixedBatches(request.source, uint32be): every frame a chunk completed, answered at once, one await write() per batch',
    handler: ({ handlers: { StreamRequestHandler, lengthPrefixedBatches } }) =>
      class LengthPrefixedBatches extends StreamRequestHandler {
        async handle() {
          for await (const batch of lengthPrefixedBatches(this.request.source, { prefix: 'uint32be' })) {
            let size = 0
            for (const frame of batch) size += 4 + frame.length
            const reply = Buffer.allocUnsafe(size)
            let at = 0
            for (const frame of batch) {
              reply.writeUInt32BE(frame.length, at)
              at = upperAscii(frame, 0, frame.length, reply, at + 4)
            }
            await this.wfile.write(reply)
          }
        }
      },
  },
  lp: {
    about: 'readExactly(4), readExactly(length), await write() of the reply, in a loop',
    handler: ({ handlers: { IncompleteReadError, StreamRequestHandler } }) =>
      class LengthPrefixed extends StreamRequestHandler {
        async handle() {
          for (;;) {
            let header
            try {
              header = await this.rfile.readExactly(4)
            } catch (error) {
              // The client closed between frames: done.
              if (error instanceof IncompleteReadError && error.partial.length === 0) return
              throw error
            }
            const body = await this.rfile.readExactly(header.readUInt32BE(0))
            const reply = Buffer.allocUnsafe(4 + body.length)
            reply.set(header)
            upperAscii(body, 0, body.length, reply, 4)
            await this.wfile.write(reply)
          }
        }
      },
  },
}
const perChildCount = wholeNumber(1)
const {
  positionals: [transport, policyName, service],
} = readCommandLine({
  usage: `Usage: node bench/servers/ours.mjs TRANSPORT POLICY SERVICE   (started by bench/run.mjs)
  TRANSPORT   tcp | unix | udp | unixdgram
  POLICY      sequential | pooled | forked | forked:N (N requests at once per child) |
              forked@M (M children, one request at a time each)
  SERVICE     ${Object.keys(SERVICES).join(' | ')} (with forked: echo, echo-tls, echo-tls-child, echo-proxied)
${Object.entries(SERVICES)
  .map(([name, { about }]) => `                ${name}: ${about}`)
  .join('\n')}
  -h, --help  print this and exit`,
  positionals: [
    { name: 'TRANSPORT', value: oneOf(['tcp', 'unix', 'udp', 'unixdgram']) },
    {
      name: 'POLICY',
      value: {
        expected: 'sequential, pooled, forked, forked:N or forked@M (N, M whole numbers of 1 or more)',
        parse: (text) => {
          if (text.startsWith('forked@')) return perChildCount.parse(text.slice('forked@'.length)) !== undefined ? text : undefined
          const [kind, perChild, ...rest] = text.split(':')
          if (perChild === undefined) return ['sequential', 'pooled', 'forked'].includes(text) ? text : undefined
          return kind === 'forked' && rest.length === 0 && perChildCount.parse(perChild) !== undefined ? text : undefined
        },
      },
    },
    { name: 'SERVICE', value: oneOf(Object.keys(SERVICES)) },
  ],
  // A forked child loads the service as a module, and only echo has one
  // (the wrapped echoes use it: their wrapper stays in the parent).
  check: ({ positionals: [, policy, name] }) =>
    policy.startsWith('forked') && !['echo', 'echo-tls-child'].includes(SERVICES[name].childModule ?? name)
      ? `Cannot use SERVICE ${JSON.stringify(name)} with POLICY ${JSON.stringify(policy)}: only the echoes have a module for forked children`
      : undefined,
})
// Loaded only now, so that a wrong argument is refused even before a build.
const core = await import('../../packages/core/dist/index.js')
const handlers = await import('../../packages/handlers/dist/index.js')
const { forked, formatAddress, pooled, sequential, serve } = core
const { listenLoopback } = await import('../../scripts/loopback-server.mjs')
collectOnRequest()
const listening = await listenLoopback(transport, 'ss-bench', { maxPendingDatagrams: 4096 })
const server = SERVICES[service].wrap === undefined ? listening : await SERVICES[service].wrap(listening)

const handler = await SERVICES[service].handler({ core, handlers })
const module = fileURLToPath(new URL(`./${SERVICES[service].childModule ?? service}-module.mjs`, import.meta.url))
// "forked" is one request per child; "forked:N" lets a child serve N
// requests at once (childConcurrency). A warm pool, every child started
// before the first request: 16 children for "forked" (the stream cases have
// 16 clients; 64 datagram clients share them), 64 / N for "forked:N", M
// for "forked@M" (fewer children than clients: the others wait their turn).
const [policyKind, perChild] = policyName.split(/[:@]/)
const children = policyName.includes('@') ? Number(perChild) : perChild === undefined ? 16 : Math.ceil(64 / Number(perChild))
const childConcurrency = policyName.includes(':') ? Number(perChild) : 1
const policy =
  policyKind === 'sequential'
    ? sequential()
    : policyKind === 'forked'
      ? forked({ module, maxChildren: children, prefork: children, childConcurrency })
      : pooled({ concurrency: 100_000 })

const controller = new AbortController()
const done = serve(server, policyKind === 'forked' ? null : handler, { signal: controller.signal, policy, handleError: () => {} })
const address = server.address
// A warm pool, as a production server would run: child start-up (about
// 150 ms per Node process here) is not part of the figures. The first
// request is served once every prefork child has loaded, so one warm-up
// exchange waits for all of them.
if (policyKind === 'forked') await warmUp()

async function warmUp() {
  if (transport === 'udp' || transport === 'unixdgram') {
    const { openDatagramClient } = await import('../../packages/testing/dist/index.js').catch(() => ({}))
    if (openDatagramClient === undefined) return
    const client = await openDatagramClient(address)
    await client.send('warm-up')
    await client.receive(30_000)
    client.close()
    return
  }
  const { connect } = SERVICES[service].tls ? await import('node:tls') : await import('node:net')
  const target = 'path' in address ? { path: address.path } : { host: address.host, port: address.port }
  await new Promise((resolve, reject) => {
    const socket = connect({ ...target, rejectUnauthorized: false }, () => socket.end('warm-up'))
    socket.on('data', () => {})
    socket.on('close', resolve)
    socket.on('error', reject)
  })
}
process.on('SIGTERM', () => controller.abort())
process.on('SIGUSR2', () => {
  const started = performance.now()
  controller.abort()
  server.close().then(() => console.log(`SHUTDOWN_MS ${(performance.now() - started).toFixed(2)}`))
})
console.log(`READY ${formatAddress(address)}`)
await done
process.exit(0)
