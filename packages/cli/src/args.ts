/**
 * The command line, parsed into a typed configuration. Pure: table-driven,
 * so a new flag is one row.
 *
 * @module
 */

import { availableParallelism } from 'node:os'
import { InvalidAddressError, InvalidOptionError, parseHostPort, type Transport } from '@socketserver/core'
import { JobTableError, parseSourceUrl } from '@socketserver/jobs'
import { type ProxyProtocolVersion, TrustedProxies } from '@socketserver/proxy-protocol'
import { UsageError } from './errors.js'
import { BUILTIN_SERVICES } from './services/index.js'

/** One listener asked for on the command line. `tls` and `tls-unix` are TCP and Unix stream listeners that speak TLS. */
export type ListenerSpec =
  | { transport: 'tcp' | 'udp' | 'tls'; host: string; port: number }
  | { transport: 'unix' | 'unix-dgram' | 'tls-unix'; path: string }

/** The TLS files and choices (`--tls-cert`, ...), for every `--tls` and `--tls-unix` listener. */
export interface TLSFiles {
  tlsCert: string | undefined
  tlsKey: string | undefined
  tlsCa: string | undefined
  tlsClientCertificate: 'none' | 'request' | 'require' | undefined
  tlsHandshakeTimeoutMs: number | undefined
}

/** The policies the command offers. */
export type PolicyName = 'sequential' | 'pooled' | 'forked'

/** What `socketserver serve ...` asks for. */
export interface ServeCommand extends TLSFiles {
  command: 'serve'
  /** A builtin service name or the path of a handler module. */
  service: string
  listeners: ListenerSpec[]
  policy: PolicyName
  concurrency: number | undefined
  maxChildren: number | undefined
  childConcurrency: number | undefined
  timeoutMs: number | undefined
  drainTimeoutMs: number | undefined
  maxPacketSize: number | undefined
  /** Every stream listener expects a PROXY header of this version. */
  proxyProtocol: ProxyProtocolVersion | undefined
  /** The proxies whose header is believed (`--trusted-proxy`); undefined keeps the default (loopback). */
  trustedProxies: string[] | undefined
  /** Serve every socket passed in by the parent (`--listen-fds`: systemd's `LISTEN_FDS`). */
  listenFds: boolean
  /** `--processes N` (`auto`: one per CPU): a supervisor and N workers; undefined serves in this process. */
  processes: number | undefined
  /** Tables of jobs to serve (`--source sqlite:PATH`, `--source postgres://...`). */
  sources: string[]
}

/** What `socketserver jobs add|status --source URL` asks for. */
export interface JobsCommand {
  command: 'jobs'
  action: 'add' | 'status'
  source: string
  /** The queue added to or counted. Default `default`. */
  queue: string | undefined
  /** `add`: attempts each new job gets. */
  maxAttempts: number | undefined
  /** `add`: milliseconds before the new jobs may run. */
  delayMs: number | undefined
  /** `add`: each line is a string, not JSON. */
  text: boolean
}

/** What `socketserver rpcgen FILE.x... --out DIR [--js]` asks for. */
export interface RpcgenCommand {
  command: 'rpcgen'
  /** The `.x` files. */
  files: string[]
  /** Where the modules go. */
  outDir: string
  /** `ts`, or `js` with `--js`. */
  language: 'ts' | 'js'
}

/** Every command the parser can return. */
export type Command = ServeCommand | RpcgenCommand | JobsCommand | { command: 'help' } | { command: 'version' }

function parseRpcgen(argv: readonly string[]): RpcgenCommand {
  const files: string[] = []
  let outDir: string | undefined
  let language: 'ts' | 'js' = 'ts'
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--out') {
      outDir = argv[++i]
      if (outDir === undefined) throw new UsageError('Cannot use --out without a directory: --out DIR')
    } else if (arg === '--js') language = 'js'
    else if (arg.startsWith('--')) throw new UsageError(`Cannot use ${arg} with rpcgen: its options are --out DIR and --js`)
    else files.push(arg)
  }
  if (files.length === 0) throw new UsageError('Cannot compile without a .x file: socketserver rpcgen FILE.x --out DIR')
  return { command: 'rpcgen', files, outDir: outDir ?? '.', language }
}

/** A source URL from the command line, checked: a UsageError for one the tables cannot serve. */
function sourceUrl(value: string, flag: string): string {
  try {
    parseSourceUrl(value)
  } catch (error) {
    if (error instanceof JobTableError) throw new UsageError(`Cannot use ${flag}: ${error.message.replace(/^Cannot use the source /, '')}`)
    throw error
  }
  return value
}

function parseJobs(argv: readonly string[]): JobsCommand {
  const action = argv[1]
  if (action !== 'add' && action !== 'status')
    throw new UsageError(
      `Cannot run jobs ${JSON.stringify(action ?? '')}: expected "jobs add --source URL < lines" or "jobs status --source URL"`,
    )
  const command: JobsCommand = {
    command: 'jobs',
    action,
    source: '',
    queue: undefined,
    maxAttempts: undefined,
    delayMs: undefined,
    text: false,
  }
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i] as string
    const value = (): string => {
      const next = argv[++i]
      if (next === undefined || next.startsWith('--')) throw new UsageError(`Cannot use ${arg}: it needs a value`)
      return next
    }
    const whole = (text: string, minimum: number): number => {
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < minimum)
        throw new UsageError(`Cannot use ${arg} ${JSON.stringify(text)}: expected a whole number of ${minimum} or more`)
      return Number(text)
    }
    if (arg === '--source') command.source = sourceUrl(value(), arg)
    else if (arg === '--queue') command.queue = value()
    else if (arg === '--max-attempts' && action === 'add') command.maxAttempts = whole(value(), 1)
    else if (arg === '--delay-ms' && action === 'add') command.delayMs = whole(value(), 0)
    else if (arg === '--text' && action === 'add') command.text = true
    else throw new UsageError(`Cannot use ${JSON.stringify(arg)} with jobs ${action} (see --help)`)
  }
  if (command.source === '') throw new UsageError(`Cannot run jobs ${action} without --source URL (sqlite:PATH or postgres://...)`)
  return command
}

type Setter = (config: ServeCommand, value: string, flag: string) => void

/** A flag: whether it may be given more than once, and what it does with its value. */
interface FlagSpec {
  /** Listeners add up; every other option is given at most once. */
  repeatable: boolean
  /** A switch such as `--listen-fds` takes no value. Default: it takes one. */
  switch?: true
  set: Setter
}

/** The longest delay a Node timer accepts (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647

const listener =
  (transport: Transport | 'tls' | 'tls-unix'): Setter =>
  (config, value, flag) => {
    if (transport === 'unix' || transport === 'unix-dgram' || transport === 'tls-unix') {
      if (value.length === 0) throw new UsageError(`Cannot use ${flag} "": expected a socket path`)
      config.listeners.push({ transport, path: value })
      return
    }
    try {
      const { host, port } = parseHostPort(value)
      config.listeners.push({ transport, host, port })
    } catch (error) {
      if (error instanceof InvalidAddressError)
        throw new UsageError(`Cannot use ${flag} ${JSON.stringify(value)}: expected HOST:PORT, with IPv6 hosts in brackets ([::1]:0)`)
      throw error
    }
  }

const integer =
  (
    key: 'concurrency' | 'maxChildren' | 'childConcurrency' | 'timeoutMs' | 'drainTimeoutMs' | 'maxPacketSize',
    minimum: number,
    maximum = Number.MAX_SAFE_INTEGER,
  ): Setter =>
  (config, value, flag) => {
    const number = Number(value)
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < minimum || number > maximum) {
      const range = maximum === Number.MAX_SAFE_INTEGER ? `of ${minimum} or more` : `from ${minimum} to ${maximum}`
      throw new UsageError(`Cannot use ${flag} ${JSON.stringify(value)}: expected a whole number ${range}`)
    }
    config[key] = number
  }

/** The flag of each TLS setting, for messages. */
const TLS_FLAGS: Record<keyof TLSFiles, string> = {
  tlsCert: '--tls-cert',
  tlsKey: '--tls-key',
  tlsCa: '--tls-ca',
  tlsClientCertificate: '--tls-client-cert',
  tlsHandshakeTimeoutMs: '--tls-handshake-timeout-ms',
}

const tlsFile =
  (key: 'tlsCert' | 'tlsKey' | 'tlsCa'): Setter =>
  (config, value, flag) => {
    if (value.length === 0) throw new UsageError(`Cannot use ${flag} "": expected a file (PEM)`)
    config[key] = value
  }

/** The flags of `serve`, by name. Later transports and options are new rows. */
const FLAGS: Record<string, FlagSpec> = {
  '--tcp': { repeatable: true, set: listener('tcp') },
  '--udp': { repeatable: true, set: listener('udp') },
  '--unix': { repeatable: true, set: listener('unix') },
  '--unix-dgram': { repeatable: true, set: listener('unix-dgram') },
  '--tls': { repeatable: true, set: listener('tls') },
  '--tls-unix': { repeatable: true, set: listener('tls-unix') },
  '--processes': {
    repeatable: false,
    set: (config, value, flag) => {
      const number = value === 'auto' ? availableParallelism() : Number(value)
      if ((value !== 'auto' && !/^\d+$/.test(value)) || !Number.isSafeInteger(number) || number < 1)
        throw new UsageError(`Cannot use ${flag} ${JSON.stringify(value)}: expected a whole number of 1 or more, or auto (one per CPU)`)
      config.processes = number
    },
  },
  '--source': {
    repeatable: true,
    set: (config, value, flag) => {
      config.sources.push(sourceUrl(value, flag))
    },
  },
  '--listen-fds': {
    repeatable: false,
    switch: true,
    set: (config) => {
      config.listenFds = true
    },
  },
  '--tls-cert': { repeatable: false, set: tlsFile('tlsCert') },
  '--tls-key': { repeatable: false, set: tlsFile('tlsKey') },
  '--tls-ca': { repeatable: false, set: tlsFile('tlsCa') },
  '--tls-client-cert': {
    repeatable: false,
    set: (config, value, flag) => {
      if (value !== 'none' && value !== 'request' && value !== 'require') {
        throw new UsageError(`Cannot use ${flag} ${JSON.stringify(value)}: expected none, request or require`)
      }
      config.tlsClientCertificate = value
    },
  },
  '--tls-handshake-timeout-ms': {
    repeatable: false,
    set: (config, value, flag) => {
      const number = Number(value)
      if (!/^\d+$/.test(value) || number < 1 || number > MAX_TIMER_MS) {
        throw new UsageError(`Cannot use ${flag} ${JSON.stringify(value)}: expected a whole number from 1 to ${MAX_TIMER_MS}`)
      }
      config.tlsHandshakeTimeoutMs = number
    },
  },
  '--policy': {
    repeatable: false,
    set: (config, value, flag) => {
      if (value !== 'sequential' && value !== 'pooled' && value !== 'forked') {
        throw new UsageError(`Cannot use ${flag} ${JSON.stringify(value)}: expected sequential, pooled or forked`)
      }
      config.policy = value
    },
  },
  '--concurrency': { repeatable: false, set: integer('concurrency', 1) },
  '--max-children': { repeatable: false, set: integer('maxChildren', 1) },
  '--child-concurrency': { repeatable: false, set: integer('childConcurrency', 1) },
  '--timeout-ms': { repeatable: false, set: integer('timeoutMs', 1, MAX_TIMER_MS) },
  '--drain-timeout-ms': { repeatable: false, set: integer('drainTimeoutMs', 0, MAX_TIMER_MS) },
  '--max-packet-size': { repeatable: false, set: integer('maxPacketSize', 1) },
  '--proxy-protocol': {
    repeatable: false,
    set: (config, value, flag) => {
      if (value !== 'v1' && value !== 'v2' && value !== 'any') {
        throw new UsageError(`Cannot use ${flag} ${JSON.stringify(value)}: expected v1, v2 or any`)
      }
      config.proxyProtocol = value
    },
  },
  '--trusted-proxy': {
    repeatable: true,
    set: (config, value, flag) => {
      try {
        new TrustedProxies([value])
      } catch (error) {
        if (error instanceof InvalidOptionError) {
          throw new UsageError(
            `Cannot use ${flag} ${JSON.stringify(value)}: expected an address or a CIDR network (10.0.0.0/8, 2001:db8::/32)`,
          )
        }
        throw error
      }
      config.trustedProxies = [...(config.trustedProxies ?? []), value]
    },
  },
}

/**
 * Parses the arguments after the program name.
 *
 * @param argv - For example `['serve', 'echo', '--tcp', '127.0.0.1:0']`.
 * @returns The command to run.
 * @throws UsageError for anything the command cannot run.
 * @example
 * ```ts
 * parseArgs(['serve', 'echo', '--tcp', '[::1]:0', '--unix', '/tmp/e.sock'])
 * // { command: 'serve', service: 'echo', listeners: [...], policy: 'pooled', ... }
 * ```
 */
export function parseArgs(argv: readonly string[]): Command {
  if (argv.length === 0) throw new UsageError('Cannot run without a command: try "socketserver serve echo --tcp 127.0.0.1:7007" or --help')
  if (argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') return { command: 'help' }
  if (argv[0] === '--version' || argv[0] === '-v') return { command: 'version' }
  if (argv[0] === 'rpcgen') return parseRpcgen(argv)
  if (argv[0] === 'jobs') return parseJobs(argv)
  if (argv[0] !== 'serve') throw new UsageError(`Cannot run ${JSON.stringify(argv[0])}: the commands are "serve", "jobs" and "rpcgen"`)
  const config: ServeCommand = {
    command: 'serve',
    service: '',
    listeners: [],
    policy: 'pooled',
    concurrency: undefined,
    maxChildren: undefined,
    childConcurrency: undefined,
    timeoutMs: undefined,
    drainTimeoutMs: undefined,
    maxPacketSize: undefined,
    proxyProtocol: undefined,
    trustedProxies: undefined,
    listenFds: false,
    processes: undefined,
    sources: [],
    tlsCert: undefined,
    tlsKey: undefined,
    tlsCa: undefined,
    tlsClientCertificate: undefined,
    tlsHandshakeTimeoutMs: undefined,
  }
  const positional: string[] = []
  const seen = new Set<string>()
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i] as string
    if (!arg.startsWith('--')) {
      positional.push(arg)
      continue
    }
    const equals = arg.indexOf('=')
    const name = equals === -1 ? arg : arg.slice(0, equals)
    const spec = FLAGS[name]
    if (spec === undefined) throw new UsageError(`Cannot use ${JSON.stringify(name)}: no such option (see --help)`)
    if (!spec.repeatable && seen.has(name)) throw new UsageError(`Cannot use ${name} twice: give it once`)
    seen.add(name)
    let value: string | undefined = equals === -1 ? undefined : arg.slice(equals + 1)
    if (spec.switch === true) {
      if (value !== undefined) throw new UsageError(`Cannot use ${name}=${value}: ${name} takes no value`)
      spec.set(config, '', name)
      continue
    }
    if (value === undefined) {
      value = argv[++i]
      // "--tcp --policy forked": the value is missing, not "--policy".
      if (value === undefined || Object.hasOwn(FLAGS, value.split('=')[0] as string))
        throw new UsageError(`Cannot use ${name}: it needs a value`)
    }
    spec.set(config, value, name)
  }
  if (positional.length === 0)
    throw new UsageError('Cannot serve without a service: name a builtin (echo, discard, chargen, daytime, time) or a handler module')
  if (positional.length > 1)
    throw new UsageError(`Cannot serve ${positional.map((p) => JSON.stringify(p)).join(' and ')}: give one service`)
  config.service = positional[0] as string
  if (config.sources.length > 0 && Object.hasOwn(BUILTIN_SERVICES, config.service))
    throw new UsageError(`Cannot serve jobs with the builtin ${config.service}: it serves sockets; give --source a handler module`)
  if (config.listeners.length === 0 && !config.listenFds && config.sources.length === 0)
    throw new UsageError(
      'Cannot serve without a listener: add --tcp HOST:PORT, --udp HOST:PORT, --unix PATH, --unix-dgram PATH, --tls HOST:PORT, --tls-unix PATH, --listen-fds or --source URL',
    )
  if (config.concurrency !== undefined && config.policy !== 'pooled')
    throw new UsageError('Cannot use --concurrency with this policy: it applies to --policy pooled')
  if (config.maxChildren !== undefined && config.policy !== 'forked')
    throw new UsageError('Cannot use --max-children with this policy: it applies to --policy forked')
  if (config.childConcurrency !== undefined && config.policy !== 'forked')
    throw new UsageError('Cannot use --child-concurrency with this policy: it applies to --policy forked')
  if (config.trustedProxies !== undefined && config.proxyProtocol === undefined)
    throw new UsageError('Cannot use --trusted-proxy without --proxy-protocol: it says whose PROXY header to believe')
  const stream = new Set(['tcp', 'unix', 'tls', 'tls-unix'])
  if (config.proxyProtocol !== undefined && !config.listenFds && !config.listeners.some((spec) => stream.has(spec.transport)))
    throw new UsageError('Cannot use --proxy-protocol without a stream listener: it applies to --tcp, --unix, --tls and --tls-unix')
  const tlsListeners = config.listeners.some((spec) => spec.transport === 'tls' || spec.transport === 'tls-unix')
  const tlsOptions = (Object.keys(TLS_FLAGS) as Array<keyof TLSFiles>).filter((key) => config[key] !== undefined)
  if (tlsListeners) {
    const missing = [config.tlsCert === undefined ? '--tls-cert FILE' : '', config.tlsKey === undefined ? '--tls-key FILE' : ''].filter(
      Boolean,
    )
    if (missing.length > 0)
      throw new UsageError(`Cannot serve TLS without ${missing.join(' and ')}: a --tls or --tls-unix listener needs both`)
    if (config.tlsClientCertificate === 'require' && config.tlsCa === undefined)
      throw new UsageError(
        'Cannot use --tls-client-cert require without --tls-ca FILE: it names the authority that signs client certificates',
      )
  } else if (tlsOptions.length > 0) {
    throw new UsageError(
      `Cannot use ${TLS_FLAGS[tlsOptions[0] as keyof TLSFiles]} without a TLS listener: add --tls HOST:PORT or --tls-unix PATH`,
    )
  }
  return config
}
