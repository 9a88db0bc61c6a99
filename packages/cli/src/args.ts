/**
 * The command line, parsed into a typed configuration. Pure: table-driven,
 * so a new flag is one row.
 *
 * @module
 */

import { InvalidAddressError, InvalidOptionError, parseHostPort, type Transport } from '@socketserver/core'
import { type ProxyProtocolVersion, TrustedProxies } from '@socketserver/proxy-protocol'
import { UsageError } from './errors.js'

/** One listener asked for on the command line. */
export type ListenerSpec = { transport: 'tcp' | 'udp'; host: string; port: number } | { transport: 'unix' | 'unix-dgram'; path: string }

/** The policies the command offers. */
export type PolicyName = 'sequential' | 'pooled' | 'forked'

/** What `socketserver serve ...` asks for. */
export interface ServeCommand {
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
}

/** Every command the parser can return. */
export type Command = ServeCommand | { command: 'help' } | { command: 'version' }

type Setter = (config: ServeCommand, value: string, flag: string) => void

/** A flag: whether it may be given more than once, and what it does with its value. */
interface FlagSpec {
  /** Listeners add up; every other option is given at most once. */
  repeatable: boolean
  set: Setter
}

/** The longest delay a Node timer accepts (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647

const listener =
  (transport: Transport): Setter =>
  (config, value, flag) => {
    if (transport === 'unix' || transport === 'unix-dgram') {
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

/** The flags of `serve`, by name. Later transports and options are new rows. */
const FLAGS: Record<string, FlagSpec> = {
  '--tcp': { repeatable: true, set: listener('tcp') },
  '--udp': { repeatable: true, set: listener('udp') },
  '--unix': { repeatable: true, set: listener('unix') },
  '--unix-dgram': { repeatable: true, set: listener('unix-dgram') },
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
  if (argv[0] !== 'serve') throw new UsageError(`Cannot run ${JSON.stringify(argv[0])}: the only command is "serve"`)
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
  if (config.listeners.length === 0)
    throw new UsageError('Cannot serve without a listener: add --tcp HOST:PORT, --udp HOST:PORT, --unix PATH or --unix-dgram PATH')
  if (config.concurrency !== undefined && config.policy !== 'pooled')
    throw new UsageError('Cannot use --concurrency with this policy: it applies to --policy pooled')
  if (config.maxChildren !== undefined && config.policy !== 'forked')
    throw new UsageError('Cannot use --max-children with this policy: it applies to --policy forked')
  if (config.childConcurrency !== undefined && config.policy !== 'forked')
    throw new UsageError('Cannot use --child-concurrency with this policy: it applies to --policy forked')
  if (config.trustedProxies !== undefined && config.proxyProtocol === undefined)
    throw new UsageError('Cannot use --trusted-proxy without --proxy-protocol: it says whose PROXY header to believe')
  if (config.proxyProtocol !== undefined && !config.listeners.some((spec) => spec.transport === 'tcp' || spec.transport === 'unix'))
    throw new UsageError('Cannot use --proxy-protocol without a stream listener: it applies to --tcp and --unix')
  return config
}
