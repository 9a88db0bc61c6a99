// The server side of `pnpm stress`: an echo server on one transport and
// policy, with the limits a production server would set.
//   node scripts/stress-server.mjs TRANSPORT POLICY
//   TRANSPORT tcp | unix | udp | unixdgram | tls | proxy | rpc | rpcudp; POLICY sequential | pooled | forked
// (tls: TCP behind withTLS(), with a certificate made here by openssl;
// proxy: TCP behind withProxyProtocol(); rpc and rpcudp: ONC RPC's
// rpcHandler() over TCP and UDP, scripts/stress-rpc-module.mjs)
// Prints "READY <address>". On SIGUSR2 collects garbage and prints
// "STATS <rssKb> <fds> <heapKb> <childPids>" (heap: JS heap used plus
// external memory such as Buffers). A wrong argument is refused with exit
// code 2 before the library is loaded.
import { oneOf, readCommandLine } from './lib/args.mjs'
import { answerStatsOnSignal } from './lib/stress-stats.mjs'

const {
  positionals: [transport, policyName],
} = readCommandLine({
  usage: `Usage: node scripts/stress-server.mjs TRANSPORT POLICY   (started by scripts/stress.mjs)
  TRANSPORT   tcp | unix | udp | unixdgram | tls | proxy | rpc | rpcudp
  POLICY      sequential | pooled | forked
  -h, --help  print this and exit`,
  positionals: [
    { name: 'TRANSPORT', value: oneOf(['tcp', 'unix', 'udp', 'unixdgram', 'tls', 'proxy', 'rpc', 'rpcudp']) },
    { name: 'POLICY', value: oneOf(['sequential', 'pooled', 'forked']) },
  ],
})
// Loaded only now, so that a wrong argument is refused even before a build.
const { forked, formatAddress, pooled, sequential, serve } = await import('../packages/core/dist/index.js')
const { listenLoopback } = await import('./loopback-server.mjs')
const rpc = transport === 'rpc' || transport === 'rpcudp'
const listening = await listenLoopback(
  transport === 'rpcudp' ? 'udp' : transport === 'tls' || transport === 'proxy' || rpc ? 'tcp' : transport,
  'ss-stress',
  {
    // An RPC call of the stress clients is up to 8 KiB and its header.
    maxPacketSize: rpc ? 9_000 : 1024,
  },
)
const server = transport === 'tls' ? await overTLS(listening) : transport === 'proxy' ? await behindProxy(listening) : listening

async function overTLS(inner) {
  const { execFileSync } = await import('node:child_process')
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = mkdtempSync(join(tmpdir(), 'ss-stress-tls-'))
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      // An EC key: its handshakes cost a fraction of RSA's, so the TLS
      // cases load the machine (and tests running beside them) no more
      // than the others.
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
    ],
    { stdio: 'ignore' },
  )
  const key = readFileSync(join(dir, 'key.pem'))
  const cert = readFileSync(join(dir, 'cert.pem'))
  rmSync(dir, { recursive: true, force: true })
  const { withTLS } = await import('../packages/tls/dist/index.js')
  // Stalled handshakes are cut off as stalled requests are.
  return withTLS(inner, { key, cert, handshakeTimeoutMs: 500 })
}

async function behindProxy(inner) {
  const { withProxyProtocol } = await import('../packages/proxy-protocol/dist/index.js')
  return withProxyProtocol(inner, { version: 'v1', proxyHeaderTimeoutMs: 500 })
}
const module = rpc ? new URL('./stress-rpc-module.mjs', import.meta.url) : new URL('../bench/servers/echo-module.mjs', import.meta.url)
const echo = rpc
  ? (await import('./stress-rpc-module.mjs')).default
  : (request) => (request.kind === 'datagram' ? request.reply(request.data) : request.sink(request.source))
const policy =
  policyName === 'sequential'
    ? sequential()
    : policyName === 'forked'
      ? forked({ module, maxChildren: 8, prefork: 2 })
      : pooled({ concurrency: 256 })
const controller = new AbortController()
const done = serve(server, policyName === 'forked' ? null : echo, {
  signal: controller.signal,
  policy,
  // Stalled clients hold a slot until this passes. Under forked() a timed-out
  // request's child is killed and replaced, and a Node start takes 150 ms or
  // more here, so its limit must leave room for a replacement to start.
  timeoutMs: policyName === 'forked' ? 3_000 : 500,
  drainTimeoutMs: 2_000,
  handleError: (error) => {
    if (process.env.STRESS_LOG_ERRORS)
      console.error('server error', error?.cause?.code ?? error?.code, error?.cause?.message ?? error?.message)
  },
})
answerStatsOnSignal(() => (policyName === 'forked' ? policy.pids : []))
process.on('SIGTERM', () => controller.abort())
// Only now, with the signal handlers in place, say we are ready.
console.log(`READY ${formatAddress(server.address)}`)
await done
process.exit(0)
