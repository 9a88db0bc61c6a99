// `pnpm bench`: our servers against raw Node and Python's socketserver, in
// one run, with ratios to the baseline measured in the same run.
//
//   node bench/run.mjs [--quick] [--runs N] [--seconds S] [--only SUBSTRING]
//
// Each case starts the server on CPU 0 (the many-processes cases: every CPU
// but the last) and the C load generator on the last CPU
// (taskset), repeats, and reports medians. Figures go to stdout as a table
// and to bench/results/latest.json. Any other argument, or a bad value, is
// refused with exit code 2 before the load generator is compiled.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { positiveNumber, readCommandLine, wholeNumber } from '../scripts/lib/args.mjs'

const here = dirname(fileURLToPath(import.meta.url))

// Implementations: how to start each server.
const node = process.execPath
// `style` tells apart rows of one case that run different handlers.
const ours = (policy, service = 'echo', style = '') => ({
  name: `${policy.includes(':') ? `ours forked, childConcurrency ${policy.split(':')[1]}` : policy.includes('@') ? `ours forked, maxChildren ${policy.split('@')[1]}` : `ours ${policy}`}${style ? `, ${style}` : ''}`,
  command: node,
  args: (t) => [join(here, 'servers/ours.mjs'), t, policy, service],
})
const RAW_NAMES = {
  echo: 'raw node',
  upper: 'raw node upper',
  'upper-async': 'raw node upper, async/await',
  'echo-promise': 'raw node, reply as promise',
  'upper-pipelined': 'raw node, a write per chunk',
  lp: 'raw node lp, a write per chunk',
  'echo-tls': 'raw node tls.Server',
}
const raw = (service = 'echo') => ({
  name: RAW_NAMES[service],
  command: node,
  args: (t) => [join(here, 'servers/raw-node.mjs'), t, service],
})
// The server side's CPUs for the many-processes cases: all but the load
// generator's (the last). On a 2-CPU machine that is one, and N = 1.
const SERVER_CPUS = Math.max(1, cpus().length - 1)
const LOADGEN_CPU = cpus().length > 1 ? cpus().length - 1 : 0
const supervised = (processes) => ({
  name: `ours pooled, --processes ${processes}`,
  command: node,
  args: () => [join(here, 'servers/supervised.mjs'), String(processes)],
  cpus: processes > 1 ? `0-${SERVER_CPUS - 1}` : '0',
})
// ONC RPC: the key-value program of examples/key-value/kv.x (program
// 536871169, version 1), NULL (procedure 0) and KV_ECHO (6), against the
// same program's C server made by Debian's rpcgen (libtirpc's svc_run), and
// against our plain echo of as many bytes (so that the RPC layer's own cost
// shows). The load generator makes each call with a new xid (LOADGEN_RPC).
const KV_PROGRAM = 536871169
const rpcCall = (procedure) => `${KV_PROGRAM}.1.${procedure}`
const rpcgenC = (procedure) => ({
  name: "rpcgen's C server (svc_run)",
  command: join(here, '.build', 'kv', 'server'),
  args: () => [],
  rpc: rpcCall(procedure),
  // It prints "ready tcp N udp M": the port of the case's transport.
  ready: (line, transport) => {
    const match = /^ready tcp (\d+) udp (\d+)$/.exec(line)
    return match === null ? undefined : `127.0.0.1:${transport === 'udp' ? match[2] : match[1]}`
  },
})
/** The RPC cases' rows: the C server (the baseline), our plain echo of the call's bytes, and rpcHandler(). */
const rpcRows = (procedure, echoBytes) => [
  rpcgenC(procedure),
  { ...ours('pooled', 'echo', `plain echo of ${echoBytes} B`), size: echoBytes },
  {
    ...ours('pooled', 'rpc-kv', 'rpcHandler()'),
    rpc: rpcCall(procedure),
    target: 0.8,
    targetVs: { impl: `ours pooled, plain echo of ${echoBytes} B`, ratio: 0.9 },
  },
]
const py = (cls, service = 'echo') => ({
  name: `python ${cls}`,
  python: true,
  command: 'python3',
  args: () => [join(here, 'servers/python_socketserver.py'), cls, service],
})

// The pipelined cases' rows: raw Node at its fastest (every whole request
// of a chunk answered in one write), the README's quick-start UpperHandler
// (for await over lines()), and the plain style (readline() or
// readExactly(), then await write(), in a loop). `target` is the issue's
// floor (#15) for the ratio to raw, checked at the end of the case.
// The fastest style the README recommends is the framing helpers' batches
// (every frame a chunk completed, answered at once): its floor is 0.9.
const pipelinedLine = (depth) => [
  raw('upper-pipelined'),
  { ...ours('pooled', 'upper-batches', 'lineBatches()'), target: depth > 1 ? 0.9 : undefined },
  ours('pooled', 'upper-lines', 'README lines()'),
  { ...ours('pooled', 'upper', 'readline() + write()'), target: depth > 1 ? 0.5 : undefined },
]
const pipelinedLengthPrefixed = (depth) => [
  raw('lp'),
  { ...ours('pooled', 'lp-batches', 'lengthPrefixedBatches()'), target: depth > 1 ? 0.9 : undefined },
  { ...ours('pooled', 'lp', 'readExactly() + write()'), target: depth > 1 ? 0.5 : undefined },
]

// The cases. The first implementation of each is its baseline.
const CASES = [
  {
    name: 'TCP ping-pong 64 B x 1',
    transport: 'tcp',
    mode: 'pingpong',
    conns: 1,
    size: 64,
    impls: [raw(), ours('sequential'), ours('pooled'), py('TCPServer')],
  },
  {
    name: 'TCP ping-pong 64 B x 64',
    transport: 'tcp',
    mode: 'pingpong',
    conns: 64,
    size: 64,
    impls: [raw(), ours('pooled'), py('ThreadingTCPServer')],
  },
  // A persistent connection holds a child for its life: 16 connections, 16 warm children.
  {
    name: 'TCP ping-pong 64 B x 16, forked vs pooled',
    transport: 'tcp',
    mode: 'pingpong',
    conns: 16,
    size: 64,
    impls: [ours('pooled'), ours('forked'), ours('forked:8'), py('ForkingTCPServer')],
  },
  {
    name: 'TCP 16 KiB x 16',
    transport: 'tcp',
    mode: 'pingpong',
    conns: 16,
    size: 16384,
    impls: [raw(), ours('pooled'), py('ThreadingTCPServer')],
  },
  {
    name: 'TCP connection rate x 16',
    transport: 'tcp',
    mode: 'connrate',
    conns: 16,
    size: 64,
    impls: [raw(), ours('pooled'), py('ThreadingTCPServer')],
  },
  {
    // #19: one process against a supervisor with a worker per server CPU.
    name: 'TCP ping-pong 64 B x 64, 1 process vs N',
    transport: 'tcp',
    mode: 'pingpong',
    conns: 64,
    size: 64,
    impls: [ours('pooled'), supervised(1), ...(SERVER_CPUS > 1 ? [supervised(SERVER_CPUS)] : [])],
  },
  {
    name: 'TCP connection rate x 16, 1 process vs N',
    transport: 'tcp',
    mode: 'connrate',
    conns: 16,
    size: 64,
    impls: [ours('pooled'), supervised(1), ...(SERVER_CPUS > 1 ? [supervised(SERVER_CPUS)] : [])],
  },
  {
    // #18: TLS echo, ours behind withTLS() against Node's own tls.Server.
    name: 'TLS ping-pong 64 B x 64',
    transport: 'tcp',
    mode: 'pingpong',
    conns: 64,
    size: 64,
    tls: true,
    impls: [raw('echo-tls'), { ...ours('pooled', 'echo-tls', 'withTLS()'), target: 0.9 }],
  },
  {
    name: 'TLS 16 KiB x 16',
    transport: 'tcp',
    mode: 'pingpong',
    conns: 16,
    size: 16_384,
    tls: true,
    impls: [raw('echo-tls'), { ...ours('pooled', 'echo-tls', 'withTLS()'), target: 0.9 }],
  },
  {
    name: 'TLS connection rate x 16, full handshakes',
    transport: 'tcp',
    mode: 'connrate',
    conns: 16,
    size: 64,
    tls: true,
    impls: [raw('echo-tls'), { ...ours('pooled', 'echo-tls', 'withTLS()'), target: 0.9 }],
  },
  {
    // Each client resumes its last session (TLS 1.3 tickets), as a returning client would.
    name: 'TLS connection rate x 16, resumed handshakes',
    transport: 'tcp',
    mode: 'connrate',
    conns: 16,
    size: 64,
    tls: 'resume',
    impls: [raw('echo-tls'), { ...ours('pooled', 'echo-tls', 'withTLS()'), target: 0.9 }],
  },
  {
    // #18: under forked() the TLS session stays in the parent and the
    // plaintext is relayed to the child over a Unix socket pair.
    name: 'TLS ping-pong 64 B x 16, forked vs pooled',
    transport: 'tcp',
    mode: 'pingpong',
    conns: 16,
    size: 64,
    tls: true,
    impls: [
      ours('pooled', 'echo-tls', 'withTLS()'),
      ours('forked', 'echo-tls', 'withTLS(), relayed'),
      ours('forked:8', 'echo-tls', 'withTLS(), relayed'),
      ours('forked', 'echo-tls-child', 'TLS in the child (not shipped)'),
      ours('forked:8', 'echo-tls-child', 'TLS in the child (not shipped)'),
    ],
  },
  {
    name: 'TLS connection rate x 16, forked',
    transport: 'tcp',
    mode: 'connrate',
    conns: 16,
    size: 64,
    tls: true,
    impls: [
      ours('pooled', 'echo-tls', 'withTLS()'),
      ours('forked', 'echo-tls', 'withTLS(), relayed'),
      ours('forked', 'echo-tls-child', 'TLS in the child (not shipped)'),
    ],
  },
  {
    // #18: a load balancer's PROXY v2 header on every connection, read by
    // withProxyProtocol(), against the same server without it. Floor 0.95.
    name: 'TCP connection rate x 16, PROXY v2',
    transport: 'tcp',
    mode: 'connrate',
    conns: 16,
    size: 64,
    impls: [ours('pooled'), { ...ours('pooled', 'echo-proxied', 'behind withProxyProtocol()'), proxyHeader: true, target: 0.95 }],
  },
  {
    name: 'TCP connection rate x 16, forked',
    transport: 'tcp',
    mode: 'connrate',
    conns: 16,
    size: 64,
    // Every server gets the same unmeasured load first: a Node child
    // optimizes its code only after it has run enough of it, and each of
    // 16 children runs a sixteenth of the connections (measured cold, the
    // figure is mostly that warm-up: 1.5 x Python instead of 2.4 x). A
    // long-lived server runs warm children; Python forks a fresh child per
    // connection either way.
    warmUpSeconds: 20,
    // #19's floor: 5 x Python's forking server. Two rows: a child per
    // client (16, as Python's up to 40), and two children per server CPU
    // (the other connections wait, accepted, for a free child): one CPU
    // switching among 16 Node processes, each running its code cold, spends
    // about 3 x the CPU per connection that it spends with two.
    impls: [py('ForkingTCPServer'), { ...ours('forked'), target: 5 }, { ...ours(`forked@${2 * SERVER_CPUS}`), target: 5 }],
  },
  {
    name: 'TCP line upper-case x 64',
    transport: 'tcp',
    mode: 'pingpong',
    conns: 64,
    size: 64,
    line: true,
    impls: [raw(), raw('upper'), raw('upper-async'), ours('pooled', 'upper'), py('ThreadingTCPServer', 'upper')],
  },
  // Pipelined: each connection keeps `depth` requests in flight, and the
  // load generator checks every reply byte for byte (a request: 63
  // lowercase letters and a newline, or a 4-byte length and 64 letters; its
  // reply: the same, the letters upper-cased).
  ...[1, 16].map((depth) => ({
    name: `TCP pipelined line upper-case x 50, ${depth} in flight`,
    transport: 'tcp',
    mode: 'pipeline',
    protocol: 'line',
    conns: 50,
    size: 64,
    depth,
    impls: pipelinedLine(depth),
  })),
  ...[1, 16].map((depth) => ({
    name: `TCP pipelined length-prefixed x 50, ${depth} in flight`,
    transport: 'tcp',
    mode: 'pipeline',
    protocol: 'lp',
    conns: 50,
    size: 64,
    depth,
    impls: pipelinedLengthPrefixed(depth),
  })),
  // Latency: one connection sends two lines in one write and waits for
  // both replies, over and over; p50 is that round trip. Before 329bd08
  // (#15) the second reply waited for a delayed ACK under Nagle's
  // algorithm: 44 ms.
  {
    name: 'TCP two pipelined lines x 1, round trip of both',
    transport: 'tcp',
    mode: 'burst',
    protocol: 'line',
    conns: 1,
    size: 64,
    depth: 2,
    impls: [
      raw('upper-pipelined'),
      { ...ours('pooled', 'upper-lines', 'README lines()'), targetP50Us: 1000 },
      ours('pooled', 'upper', 'readline() + write()'),
    ],
  },
  {
    name: 'Unix ping-pong 64 B x 64',
    transport: 'unix',
    mode: 'pingpong',
    conns: 64,
    size: 64,
    impls: [raw(), ours('pooled'), py('ThreadingUnixStreamServer')],
  },
  {
    name: 'UDP ping-pong 64 B x 64',
    transport: 'udp',
    mode: 'pingpong',
    conns: 64,
    size: 64,
    impls: [
      raw(),
      raw('echo-promise'),
      ours('pooled'),
      ours('forked'),
      ours('forked:8'),
      py('UDPServer'),
      py('ThreadingUDPServer'),
      py('ForkingUDPServer'),
    ],
  },
  {
    name: 'Unix datagram ping-pong 64 B x 64',
    transport: 'unixdgram',
    mode: 'pingpong',
    conns: 64,
    size: 64,
    impls: [raw(), ours('pooled'), py('UnixDatagramServer')],
  },
  // The RPC cases: SIZE is the opaque argument of KV_ECHO (0: a NULL call).
  // A NULL call is 44 bytes over TCP (40 and its record mark), its reply 28;
  // an echo of 64 bytes 112 and 96. Over UDP 4 bytes less each.
  { name: 'ONC RPC NULL calls x 64, TCP', transport: 'tcp', mode: 'pingpong', conns: 64, size: 0, rpc: true, impls: rpcRows(0, 44) },
  { name: 'ONC RPC echo 64 B x 64, TCP', transport: 'tcp', mode: 'pingpong', conns: 64, size: 64, rpc: true, impls: rpcRows(6, 112) },
  { name: 'ONC RPC NULL calls x 64, UDP', transport: 'udp', mode: 'pingpong', conns: 64, size: 0, rpc: true, impls: rpcRows(0, 40) },
  { name: 'ONC RPC echo 64 B x 64, UDP', transport: 'udp', mode: 'pingpong', conns: 64, size: 64, rpc: true, impls: rpcRows(6, 108) },
  {
    name: 'TCP 64 B x 64 beside 10,000 idle',
    transport: 'tcp',
    mode: 'pingpong',
    conns: 64,
    size: 64,
    idle: 10_000,
    impls: [raw(), ours('pooled')],
  },
]

// Jobs from a table: ours on PostgreSQL and SQLite against pg-boss and graphile-worker (bench/jobs.mjs).
const JOBS_TITLE = 'Jobs from a table'
const USAGE = `Usage: node bench/run.mjs [--quick] [--runs N] [--seconds S] [--only SUBSTRING]   (or: pnpm bench [...])
  --quick            a short run: --runs 1 --seconds 1 unless given (about 100 s)
  --runs N           rounds, every implementation once per round (default 3)
  --seconds S        seconds per figure, a positive number (default 3)
  --only SUBSTRING   only the cases whose name contains SUBSTRING (case-sensitive;
                     the memory and shutdown figures always run):
${CASES.map((kase) => `                       ${kase.name}`).join('\n')}
                       Jobs from a table (bench/jobs.mjs: ours, pg-boss, graphile-worker)
  -h, --help         print this and exit`
const { values } = readCommandLine({
  usage: USAGE,
  options: {
    quick: { type: 'boolean' },
    runs: { type: 'string', value: wholeNumber(1) },
    seconds: { type: 'string', value: positiveNumber },
    only: {
      type: 'string',
      value: {
        expected: 'part of a case name',
        parse: (text) => (CASES.some((kase) => kase.name.includes(text)) || JOBS_TITLE.includes(text) ? text : undefined),
      },
      default: '',
    },
  },
})
const { quick, only } = values
const runs = values.runs ?? (quick ? 1 : 3)
const seconds = values.seconds ?? (quick ? 1 : 3)

const loadgen = join(here, '.build', 'loadgen')
mkdirSync(dirname(loadgen), { recursive: true })
// With TLS where OpenSSL's headers are there (libssl-dev); the TLS cases are
// skipped, and say so, where they are not.
const hasTLS = tryRun('gcc', ['-O2', '-DWITH_TLS', '-o', loadgen, join(here, 'loadgen.c'), '-lssl', '-lcrypto'])
if (!hasTLS) execFileSync('gcc', ['-O2', '-o', loadgen, join(here, 'loadgen.c')])
// The TLS cases' certificate, made once (never committed: bench/.build is ignored).
if (hasTLS && !existsSync(join(here, '.build', 'tls-cert.pem'))) {
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(here, '.build', 'tls-key.pem'),
      '-out',
      join(here, '.build', 'tls-cert.pem'),
      '-days',
      '3650',
      '-subj',
      '/CN=localhost',
    ],
    { stdio: 'ignore' },
  )
}
// The RPC cases' programs: kv.x compiled by our rpcgen (for ours.mjs) and by Debian's (the C server).
const hasRpcgen =
  tryRun(join(here, '..', 'examples', 'key-value', 'c', 'build.sh'), [join(here, '.build', 'kv')]) &&
  tryRun(node, [
    join(here, '..', 'packages', 'cli', 'bin', 'socketserver.js'),
    'rpcgen',
    join(here, '..', 'examples', 'key-value', 'kv.x'),
    '--out',
    join(here, '.build'),
    '--js',
  ])
const hasTaskset = tryRun('taskset', ['-c', '0', 'true'])
const hasPython = tryRun('python3', ['-c', 'import socketserver'])
const pin = (cpu, command, commandArgs) => (hasTaskset ? ['taskset', ['-c', String(cpu), command, ...commandArgs]] : [command, commandArgs])

function tryRun(command, commandArgs) {
  try {
    execFileSync(command, commandArgs, { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Starts a server pinned to CPU 0; resolves with its process and address. */
async function startServer(impl, transport) {
  const [command, commandArgs] = pin(impl.cpus ?? 0, impl.command, impl.args(transport))
  // Python prints a traceback per reset connection; keep the table readable.
  const child = spawn(command, commandArgs, { stdio: [impl.python ? 'ignore' : 'pipe', 'pipe', impl.python ? 'ignore' : 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  for await (const line of lines) {
    const address = impl.ready === undefined ? (line.startsWith('READY ') ? line.slice(6) : undefined) : impl.ready(line, transport)
    if (address !== undefined) {
      clearTimeout(timer)
      const rest = []
      lines.on('line', (l) => rest.push(l))
      return { child, address, lines: rest, pid: await serverPid(child) }
    }
  }
  throw new Error(`${impl.name} did not start`)
}

/** The pid of the server itself (under taskset, the child is taskset's exec, the same pid). */
async function serverPid(child) {
  return child.pid
}

function procTicks(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return 0
  }
}

/** CPU ticks of a process and its live children (forked policy, forking Python). */
function treeTicks(pid) {
  let total = procTicks(pid)
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (Number(stat.split(') ')[1].split(' ')[1]) === pid) total += procTicks(Number(entry))
    } catch {}
  }
  return total
}

function statusKb(pid, field) {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) : 0
  } catch {
    return 0
  }
}

async function stopServer(server) {
  server.child.kill('SIGTERM')
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 5_000)
  await new Promise((resolve) => server.child.once('exit', resolve))
  clearTimeout(timer)
}

const isPipelined = (kase) => kase.mode === 'pipeline' || kase.mode === 'burst'
function runLoadgen(kase, address, duration, impl = {}) {
  const transport = kase.transport
  // A row may send another size (the RPC cases' plain echo: as many bytes as a call).
  const common = [kase.mode, transport, address, String(kase.conns), String(impl.size ?? kase.size), String(duration)]
  const [command, commandArgs] = pin(
    LOADGEN_CPU,
    loadgen,
    isPipelined(kase) ? [...common, String(kase.depth), kase.protocol] : [...common, String(kase.idle ?? 0)],
  )
  const out = execFileSync(command, commandArgs, {
    encoding: 'utf8',
    env: {
      ...process.env,
      LOADGEN_LINE: kase.line ? '1' : '',
      LOADGEN_PROXY_V2: impl.proxyHeader ? '1' : '',
      LOADGEN_TLS: kase.tls === 'resume' ? 'resume' : kase.tls ? '1' : '',
      LOADGEN_RPC: impl.rpc ?? '',
    },
  })
  const result = JSON.parse(out.trim().split('\n').at(-1))
  // A resumption case that did not resume measures full handshakes: say so.
  if (kase.tls === 'resume' && result.resumed < result.requests * 0.9)
    console.log(`  ${impl.name}: only ${result.resumed} of ${result.requests} handshakes resumed a session`)
  return result
}

const TICK_US = 1e6 / 100
async function measure(kase, impl) {
  const server = await startServer(impl, kase.transport)
  try {
    // A case may load the server first, unmeasured (see `warmUpSeconds`).
    if (kase.warmUpSeconds !== undefined && !quick) runLoadgen(kase, server.address, kase.warmUpSeconds, impl)
    const before = treeTicks(server.pid)
    const result = runLoadgen(kase, server.address, seconds, impl)
    const ticks = treeTicks(server.pid) - before
    // A length-prefixed request is its payload and a 4-byte length.
    const bytes = kase.protocol === 'lp' ? kase.size + 4 : kase.size
    return {
      requests: result.requests,
      mismatches: result.mismatches,
      rps: result.requests / result.seconds,
      mbps: (result.requests * bytes * 2) / result.seconds / 1e6,
      p50: result.p50_us,
      p99: result.p99_us,
      failures: result.failures,
      cpuPerRequestUs: result.requests > 0 ? (ticks * TICK_US) / result.requests : 0,
      serverCpu: (ticks * TICK_US) / 1e6 / result.seconds,
      loadgenCpu: result.loadgen_cpu / result.seconds,
      peakRssMb: statusKb(server.pid, 'VmHWM') / 1024,
    }
  } finally {
    await stopServer(server)
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const spread = (values) => (values.length < 2 ? 0 : (Math.max(...values) - Math.min(...values)) / median(values))

const results = []
const started = Date.now()
for (const kase of CASES) {
  if (only && !kase.name.includes(only)) continue
  if (kase.tls && !hasTLS) {
    console.log(`\n${kase.name}: skipped, the load generator was built without TLS (install libssl-dev)`)
    continue
  }
  if (kase.rpc && !hasRpcgen) {
    console.log(`\n${kase.name}: skipped, kv.x could not be built (rpcgen, gcc and libtirpc-dev are needed)`)
    continue
  }
  const impls = kase.impls.filter((impl) => !impl.python || hasPython)
  // Rounds: every implementation once per round, so that a neighbour's load
  // on these shared machines hits all of them alike; each ratio is the
  // median of the per-round ratios to the baseline of the same round.
  const samples = impls.map(() => [])
  for (let run = 0; run < runs; run++) {
    for (const [index, impl] of impls.entries()) samples[index].push(await measure(kase, impl))
  }
  const baseline = samples[0]
  const rows = impls.map((impl, index) => {
    const own = samples[index]
    const pick = (key) => median(own.map((s) => s[key]))
    const ratio = (key) => median(own.map((s, run) => (baseline[run][key] > 0 ? s[key] / baseline[run][key] : 1)))
    const total = (key) => own.reduce((sum, s) => sum + s[key], 0)
    return {
      impl: impl.name,
      target: impl.target,
      targetVs: impl.targetVs,
      targetP50Us: impl.targetP50Us,
      // Over every round: the pipelined modes count a reply only once it matched.
      repliesMatched: total('requests'),
      mismatches: total('mismatches'),
      connectionFailures: total('failures') - total('mismatches'),
      rps: pick('rps'),
      mbps: pick('mbps'),
      p50: pick('p50'),
      p99: pick('p99'),
      cpuPerRequestUs: pick('cpuPerRequestUs'),
      serverCpu: pick('serverCpu'),
      loadgenCpu: pick('loadgenCpu'),
      peakRssMb: pick('peakRssMb'),
      failures: pick('failures'),
      variation: spread(own.map((s) => s.rps)),
      rpsRatio: ratio('rps'),
      p99Ratio: ratio('p99'),
    }
  })
  const base = rows[0]
  results.push({ case: kase.name, baseline: base.impl, rows })
  printCase(kase, rows)
}

const memory = {
  defaultFlags: await repeatIdleMemory([]),
  youngGenerationCapped: await repeatIdleMemory(['--max-semi-space-size=1']),
}

/** {@link measureIdleMemory} once per round; each figure is the median of the rounds. */
async function repeatIdleMemory(flags) {
  const rounds = []
  for (let round = 0; round < runs; round++) rounds.push(await measureIdleMemory(flags))
  const figure = (key, name) => median(rounds.map((r) => r[key][name]))
  return {
    raw: { peak: figure('raw', 'peak'), collected: figure('raw', 'collected') },
    ours: { peak: figure('ours', 'peak'), collected: figure('ours', 'collected') },
  }
}
// One shutdown per round: a single figure caught a neighbour's burst or a
// major collection once (14 ms against about 1 ms in every other run).
const shutdowns = []
for (let round = 0; round < runs; round++) shutdowns.push(await measureShutdown())
const shutdown = median(shutdowns)
const rollingWorkers = Math.max(2, SERVER_CPUS)
const rolling = []
for (let round = 0; round < runs; round++) rolling.push(await measureRollingRestart(rollingWorkers))
const memoryLine = ({ raw: r, ours: o }, figure) =>
  `raw node ${r[figure].toFixed(2)} KB, ours ${o[figure].toFixed(2)} KB (${(o[figure] / r[figure]).toFixed(2)} x)`
console.log(
  [
    `\nRSS per idle TCP connection (10,000 idle; medians of ${runs} round(s)):`,
    `  default flags, peak while they arrive:  ${memoryLine(memory.defaultFlags, 'peak')}`,
    `  default flags, after a full collection: ${memoryLine(memory.defaultFlags, 'collected')}`,
    `  young generation capped at 1 MB (both), after a full collection: ${memoryLine(memory.youngGenerationCapped, 'collected')}`,
  ].join('\n'),
)
const rowOf = (caseName, impl) => results.find((r) => r.case === caseName)?.rows.find((row) => row.impl === impl)
const idleEffect = (impl) => {
  const alone = rowOf('TCP ping-pong 64 B x 64', impl)
  const beside = rowOf('TCP 64 B x 64 beside 10,000 idle', impl)
  return alone && beside ? beside.rps / alone.rps : undefined
}
if (idleEffect('ours pooled') !== undefined) {
  // The two cases run minutes apart, so each keeps-ratio carries the
  // machine's drift; ours against raw's cancels it.
  const ours = idleEffect('ours pooled')
  const raw = idleEffect('raw node')
  console.log(
    `64 active connections beside 10,000 idle ones keep ${(ours * 100).toFixed(0)} % of their throughput alone (raw node: ${(raw * 100).toFixed(0)} %; ours relative to raw: ${(ours / raw).toFixed(2)})`,
  )
}
console.log(
  `Rolling restart of ${rollingWorkers} workers (SIGHUP) under 16 clients connecting as fast as they can: ${rolling
    .map((r) => `${r.requests} requests, ${r.failed} failed, restart ${r.restartMs ?? '(not finished)'} ms`)
    .join('; ')} (one line per round; ${SERVER_CPUS} server CPU(s) here)`,
)
console.log(
  `Shutdown with 10,000 idle connections: listener closed ${shutdown.toFixed(2)} ms after abort (median of ${runs}; ${Math.min(...shutdowns).toFixed(2)} to ${Math.max(...shutdowns).toFixed(2)} ms)`,
)
let jobs
if (!only || JOBS_TITLE.includes(only)) {
  console.log(`\n${JOBS_TITLE} (trivial jobs, 16 in flight per worker process; 1, 2 and 4 workers; latency: one idle worker)`)
  const { benchJobs, jobsVerdicts } = await import('./jobs.mjs')
  jobs = await benchJobs({ quick })
  for (const line of jobsVerdicts(jobs)) console.log(line)
}
console.log(
  `\n${runs} round(s) of ${seconds} s per figure, every implementation once per round; figures are medians, ratios the median of each round's ratio to that round's baseline; "var" is (max - min) / median of req/s across rounds. ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.versions.node}, taskset ${hasTaskset ? 'on' : 'off'}. Took ${((Date.now() - started) / 1000).toFixed(0)} s.`,
)

mkdirSync(join(here, 'results'), { recursive: true })
writeFileSync(
  join(here, 'results', 'latest.json'),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.versions.node, cpus: cpus().length, runs, seconds, results, memory, idleKept: { ours: idleEffect('ours pooled'), raw: idleEffect('raw node') }, shutdownMs: shutdown, shutdownRunsMs: shutdowns, rollingRestart: rolling, jobs }, null, 2)}\n`,
)

function printCase(kase, rows) {
  console.log(`\n${kase.name}${kase.idle ? '' : ''}`)
  if (kase.warmUpSeconds !== undefined) {
    console.log(
      quick
        ? `  measured cold: --quick skips the ${kase.warmUpSeconds} s of unmeasured load each round gets first, so its targets do not apply`
        : `  each round after ${kase.warmUpSeconds} s of the same load, unmeasured`,
    )
  }
  const width = Math.max(32, ...rows.map((r) => r.impl.length))
  console.log(
    `  ${'server'.padEnd(width)} ${'req/s'.padStart(9)} ${'ratio'.padStart(6)} ${'MB/s'.padStart(7)} ${'p50 µs'.padStart(7)} ${'p99 µs'.padStart(7)} ${'p99 x'.padStart(6)} ${'cpu µs/req'.padStart(10)} ${'srv cpu'.padStart(7)} ${'gen cpu'.padStart(7)} ${'RSS MB'.padStart(7)} ${'var'.padStart(5)} ${'lost'.padStart(5)}`,
  )
  for (const r of rows) {
    console.log(
      `  ${r.impl.padEnd(width)} ${r.rps.toFixed(0).padStart(9)} ${r.rpsRatio.toFixed(2).padStart(6)} ${r.mbps.toFixed(1).padStart(7)} ${r.p50.toFixed(0).padStart(7)} ${r.p99.toFixed(0).padStart(7)} ${r.p99Ratio.toFixed(2).padStart(6)} ${r.cpuPerRequestUs.toFixed(1).padStart(10)} ${(r.serverCpu * 100).toFixed(0).padStart(6)}% ${(r.loadgenCpu * 100).toFixed(0).padStart(6)}% ${r.peakRssMb.toFixed(0).padStart(7)} ${(r.variation * 100).toFixed(0).padStart(4)}% ${String(r.failures).padStart(5)}`,
    )
  }
  if (isPipelined(kase)) {
    if (kase.mode === 'burst') console.log(`  p50 and p99: from sending ${kase.depth} requests in one write to the last of their replies`)
    for (const r of rows) {
      const checked = `${r.repliesMatched.toLocaleString('en')} replies matched, ${r.mismatches} wrong, ${r.connectionFailures} connection failures`
      console.log(`  checked byte for byte, ${r.impl}: ${checked}`)
    }
  }
  // Ratios are to the case's first row, its baseline (raw Node, or the same server without a wrapper).
  const baseline = rows[0]?.impl.replace(/^raw node.*/, 'raw')
  for (const r of rows) {
    if (r.target !== undefined)
      console.log(
        `  target ${r.impl} >= ${r.target.toFixed(2)} x ${baseline}: ${r.rpsRatio.toFixed(2)}, ${r.rpsRatio >= r.target ? 'met' : 'MISSED'}`,
      )
    if (r.targetP50Us !== undefined)
      console.log(`  target ${r.impl} p50 < ${r.targetP50Us} µs: ${r.p50.toFixed(0)} µs, ${r.p50 < r.targetP50Us ? 'met' : 'MISSED'}`)
    const versus = r.targetVs === undefined ? undefined : rows.find((row) => row.impl === r.targetVs.impl)
    if (versus !== undefined) {
      const ratio = r.rps / versus.rps
      console.log(
        `  target ${r.impl} >= ${r.targetVs.ratio.toFixed(2)} x ${versus.impl}: ${ratio.toFixed(2)}, ${ratio >= r.targetVs.ratio ? 'met' : 'MISSED'}`,
      )
    }
  }
}

/**
 * RSS growth per idle connection: 10,000 silent TCP connections, ours
 * against raw Node, each server started with `flags` (and --expose-gc).
 * Two figures for each: the peak while the connections arrive and sit idle,
 * and the RSS after two full collections. With default flags both include
 * V8's young generation, which grows (up to 32 MB, once per process) when a
 * flood of connections survives its collections; capping it
 * (--max-semi-space-size=1 for both) leaves what the connections hold.
 */
async function measureIdleMemory(flags = []) {
  const perConnection = {}
  for (const [key, impl] of [
    ['raw', raw()],
    ['ours', ours('pooled')],
  ]) {
    const server = await startServer({ ...impl, args: (t) => ['--expose-gc', ...flags, ...impl.args(t)] }, 'tcp')
    try {
      const before = statusKb(server.pid, 'VmRSS')
      const [command, commandArgs] = pin(1, loadgen, ['pingpong', 'tcp', server.address, '0', '64', '5', '10000'])
      const gen = spawn(command, commandArgs, { stdio: 'ignore' })
      // Sample while the idle connections are open.
      let peak = before
      const deadline = Date.now() + 2_500
      while (Date.now() < deadline) {
        peak = Math.max(peak, statusKb(server.pid, 'VmRSS'))
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      server.child.stdin.write('gc\n')
      const collected = Date.now() + 5_000
      while (!server.lines.includes('GC_DONE') && Date.now() < collected) await new Promise((resolve) => setTimeout(resolve, 20))
      const settled = statusKb(server.pid, 'VmRSS')
      const exited = new Promise((resolve) => gen.once('exit', resolve))
      gen.kill()
      await exited
      perConnection[key] = { peak: (peak - before) / 10_000, collected: (settled - before) / 10_000 }
    } finally {
      await stopServer(server)
    }
  }
  return perConnection
}

/**
 * A rolling restart under load: 16 clients opening connections as fast as
 * they can for 4 s, SIGHUP after 1 s; the requests made, the ones that
 * failed, and how long the restart took (until the last old worker was gone).
 */
async function measureRollingRestart(processes) {
  const server = await startServer(supervised(processes), 'tcp')
  try {
    const [command, commandArgs] = pin(LOADGEN_CPU, loadgen, ['connrate', 'tcp', server.address, '16', '64', '4', '0'])
    const gen = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    gen.stdout.on('data', (chunk) => {
      out += chunk
    })
    const exited = new Promise((resolve) => gen.once('exit', resolve))
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    server.child.kill('SIGHUP')
    await exited
    const result = JSON.parse(out.trim().split('\n').at(-1))
    // A restart that outlasts the load finishes on an idle machine: wait for its line.
    const deadline = Date.now() + 15_000
    while (!server.lines.some((l) => l.startsWith('RESTARTED ')) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20))
    const line = server.lines.find((l) => l.startsWith('RESTARTED '))
    return { requests: result.requests, failed: result.failures, restartMs: line ? Number(line.slice(10)) : undefined }
  } finally {
    await stopServer(server)
  }
}

/** Time from abort to the listener closed, with 10,000 idle connections. */
async function measureShutdown() {
  const server = await startServer(ours('pooled'), 'tcp')
  const [command, commandArgs] = pin(1, loadgen, ['pingpong', 'tcp', server.address, '0', '64', '4', '10000'])
  const gen = spawn(command, commandArgs, { stdio: 'ignore' })
  // Wait until the server holds the connections (its descriptor count grows).
  const deadline = Date.now() + 3_000
  while (Date.now() < deadline && readdirSync(`/proc/${server.pid}/fd`).length < 10_000)
    await new Promise((resolve) => setTimeout(resolve, 50))
  server.child.kill('SIGUSR2')
  const ms = await new Promise((resolve) => {
    const check = setInterval(() => {
      const line = server.lines.find((l) => l.startsWith('SHUTDOWN_MS '))
      if (line) {
        clearInterval(check)
        resolve(Number(line.slice(12)))
      }
    }, 10)
  })
  gen.kill('SIGKILL')
  await stopServer(server)
  return ms
}
