/**
 * The `socketserver` command, as a function: testable in-process, and what
 * the bin runs.
 *
 * @module
 */

import { readFileSync } from 'node:fs'
import {
  forked,
  formatAddress,
  InvalidOptionError,
  listenFds,
  notifyServiceManager,
  type Policy,
  pooled,
  type Request,
  type Server,
  type SocketRequest,
  SocketServerError,
  type StreamRequest,
  sequential,
  serve,
  serverFromFd,
  TCPServer,
  UDPServer,
  UnixDatagramServer,
  UnixStreamServer,
} from '@socketserver/core'
import { JobTable } from '@socketserver/jobs'
import { compileRpclFile } from '@socketserver/oncrpc'
import { withProxyProtocol } from '@socketserver/proxy-protocol'
import { type SupervisedWorker, supervisedWorker } from '@socketserver/supervisor'
import { type TLSOptions, type TLSStreamServer, withTLS } from '@socketserver/tls'
import { type ListenerSpec, parseArgs, type RpcgenCommand, type ServeCommand, type TLSFiles } from './args.js'
import { describeFailure, UsageError } from './errors.js'
import { helpText } from './help.js'
import { jobsCommand } from './jobs-command.js'
import { type AfterServing, type LoadedHandler, loadHandler, startListening } from './load-handler.js'
import { superviseCommand } from './supervise-command.js'

/** Where the command writes, and the process it answers signals for. */
export interface CommandIO {
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
  /** Where `jobs add` reads its lines. Default `process.stdin`. */
  stdin?: NodeJS.ReadableStream
  /** Emits SIGINT and SIGTERM. Default `process`. */
  signals: { on(signal: NodeJS.Signals, listener: () => void): unknown; off(signal: NodeJS.Signals, listener: () => void): unknown }
}

const defaultIO: CommandIO = { stdout: process.stdout, stderr: process.stderr, signals: process }

/**
 * Runs the command line `argv` (the arguments after the program name).
 *
 * @param argv - For example `['serve', 'echo', '--tcp', '127.0.0.1:0']`.
 * @param io - Output streams and the signal source. Default the process's.
 * @returns The exit status: 0 after a graceful stop, 1 when binding failed,
 *   2 for a bad command line or handler module.
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2))
 * ```
 */
export async function main(argv: readonly string[], io: CommandIO = defaultIO): Promise<number> {
  let config: ServeCommand
  try {
    const command = parseArgs(argv)
    if (command.command === 'help') {
      io.stdout.write(helpText())
      return 0
    }
    if (command.command === 'version') {
      io.stdout.write(`${version()}\n`)
      return 0
    }
    if (command.command === 'rpcgen') return await rpcgen(command, io)
    if (command.command === 'jobs')
      return await jobsCommand(command, { stdin: io.stdin ?? process.stdin, stdout: io.stdout, stderr: io.stderr })
    config = command
  } catch (error) {
    return usage(io, error)
  }
  // A worker of a supervisor: this same command, serving the listeners it bound.
  const worker = supervisedWorker()
  if (config.processes !== undefined && worker === undefined) return superviseCommand(argv, config, io)
  let loaded: LoadedHandler
  let policy: Policy
  try {
    loaded = await loadHandler(config.service)
    policy = policyOf(config, loaded)
  } catch (error) {
    worker?.failed(describeFailure(error))
    return usage(io, error)
  }

  // Signal handlers first: a SIGTERM that arrives while binding, or right
  // after a "listening" line, stops the server instead of killing the process.
  const stop = new AbortController()
  const force = new AbortController()
  const onSignal = (): void => {
    // The first signal drains; a second one ends running requests at once.
    if (stop.signal.aborted) force.abort()
    else stop.abort()
  }
  io.signals.on('SIGINT', onSignal)
  io.signals.on('SIGTERM', onSignal)
  // A worker stops when its supervisor asks or is gone, even if that was while it started.
  if (worker?.signal.aborted) stop.abort()
  else worker?.signal.addEventListener('abort', () => stop.abort(), { once: true })
  const servers: Array<Server<SocketRequest>> = []
  const tables: JobTable[] = []
  const tlsServers: TLSStreamServer[] = []
  let tlsOptions: TLSOptions | undefined
  try {
    tlsOptions = config.listeners.some((spec) => spec.transport === 'tls' || spec.transport === 'tls-unix') ? readTLS(config) : undefined
    for (const [index, spec] of config.listeners.entries()) {
      const server = await bind(spec, config, tlsOptions, worker, index)
      servers.push(server)
      if (spec.transport === 'tls' || spec.transport === 'tls-unix') tlsServers.push(server as unknown as TLSStreamServer)
    }
    if (config.listenFds) {
      servers.push(...(await bindInherited(config, worker)))
    }
    // Every worker opens the tables itself: claims are safe from any number of processes.
    for (const url of config.sources) tables.push(await JobTable.open({ url }))
  } catch (error) {
    io.signals.off('SIGINT', onSignal)
    io.signals.off('SIGTERM', onSignal)
    await Promise.all([...servers, ...tables].map((server) => server.close()))
    io.stderr.write(`socketserver: ${describeFailure(error)}\n`)
    worker?.failed(describeFailure(error))
    // A value the server refuses (--max-packet-size too large, a TLS file) is a usage error, not a failed bind.
    return error instanceof InvalidOptionError || error instanceof UsageError ? 2 : 1
  }
  // The module's own start: after binding, before the first request and the "listening" lines.
  // (A supervisor's worker does not: the supervisor runs it once for all of them.)
  let afterServing: AfterServing
  try {
    afterServing = await startListening(worker === undefined ? loaded.listening : undefined, servers, stop.signal)
  } catch (error) {
    io.signals.off('SIGINT', onSignal)
    io.signals.off('SIGTERM', onSignal)
    await Promise.all([...servers, ...tables].map((server) => server.close()))
    io.stderr.write(`socketserver: ${(error as Error).message}\n`)
    worker?.failed((error as Error).message)
    return 1
  }
  if (worker === undefined) {
    servers.forEach((server, index) => {
      // An inherited socket is named by what it is.
      const transport = config.listeners[index]?.transport ?? server.address.transport
      io.stdout.write(`listening ${transport} ${formatAddress(server.address)}\n`)
    })
    for (const table of tables) io.stdout.write(`listening source ${formatAddress(table.address)}\n`)
    // A service manager that asked (systemd's Type=notify) learns that serving starts, and when it stops.
    const notify = (state: string): void => {
      notifyServiceManager(state).catch((error: unknown) => io.stderr.write(`socketserver: ${describeFailure(error)}\n`))
    }
    notify('READY=1')
    stop.signal.addEventListener('abort', () => notify('STOPPING=1'), { once: true })
  }
  // SIGHUP reads the certificate files again; new handshakes use them.
  const onReload = (): void => {
    try {
      const next = readTLS(config)
      for (const server of tlsServers) server.reloadTLS(next)
      io.stderr.write(`socketserver: reloaded the TLS certificate and key (${config.tlsCert}, ${config.tlsKey})\n`)
    } catch (error) {
      io.stderr.write(`socketserver: ${describeFailure(error)}; the last good certificate stays\n`)
    }
  }
  if (tlsServers.length > 0) io.signals.on('SIGHUP', onReload)

  try {
    const handler = config.policy === 'forked' ? null : loaded.handler
    const serving = Promise.all(
      [...servers, ...tables].map((server) =>
        serve(server as Server<Request>, handler, {
          signal: stop.signal,
          forceSignal: force.signal,
          policy,
          timeoutMs: config.timeoutMs,
          drainTimeoutMs: config.drainTimeoutMs,
        }),
      ),
    )
    worker?.ready()
    await serving
  } catch (error) {
    stop.abort()
    await Promise.all([...servers, ...tables].map((server) => server.close()))
    io.stderr.write(`socketserver: ${describeFailure(error)}\n`)
    return error instanceof SocketServerError && error.code === 'SS_ERR_WORKER_START' ? 2 : 1
  } finally {
    io.signals.off('SIGINT', onSignal)
    io.signals.off('SIGTERM', onSignal)
    io.signals.off('SIGHUP', onReload)
    await afterServing((message) => io.stderr.write(`socketserver: ${message}\n`))
  }
  return 0
}

/** `socketserver rpcgen FILE.x... --out DIR [--js]`: one module per file; 1 for a file that does not compile. */
async function rpcgen(command: RpcgenCommand, io: CommandIO): Promise<number> {
  for (const file of command.files) {
    try {
      const written = await compileRpclFile(file, command.outDir, { language: command.language })
      io.stdout.write(`wrote ${written}\n`)
    } catch (error) {
      io.stderr.write(`socketserver rpcgen: ${describeFailure(error)}\n`)
      return 1
    }
  }
  return 0
}

function usage(io: CommandIO, error: unknown): number {
  if (!(error instanceof UsageError) && !(error instanceof SocketServerError)) throw error
  io.stderr.write(`socketserver: ${error.message}\nTry "socketserver --help".\n`)
  return 2
}

function policyOf(config: ServeCommand, loaded: LoadedHandler): Policy {
  if (config.policy === 'sequential') return sequential()
  if (config.policy === 'forked')
    return forked({ module: loaded.module, maxChildren: config.maxChildren, childConcurrency: config.childConcurrency })
  return pooled({ concurrency: config.concurrency })
}

/**
 * The server of a listener: bound here, or (in a supervisor's `worker`) the
 * one the worker makes of what the supervisor bound for listener `index`
 * (an inherited descriptor, or the datagrams it relays); then, for a stream
 * listener, behind PROXY and TLS as asked.
 */
function bind(
  spec: ListenerSpec,
  config: ServeCommand,
  tlsOptions: TLSOptions | undefined,
  worker: SupervisedWorker | undefined,
  index: number,
): Promise<Server<SocketRequest>> {
  const maxPacketSize = config.maxPacketSize
  const bare = worker !== undefined ? worker.server(index, { maxPacketSize }) : listenOn(spec, maxPacketSize)
  switch (spec.transport) {
    case 'tls':
    case 'tls-unix':
      return overTLS(behindProxy(bare as Promise<Server<StreamRequest>>, config), tlsOptions as TLSOptions, config)
    case 'tcp':
    case 'unix':
      return behindProxy(bare as Promise<Server<StreamRequest>>, config)
    case 'udp':
    case 'unix-dgram':
      return bare
  }
}

/** Binds a listener's own socket, in this process. */
function listenOn(spec: ListenerSpec, maxPacketSize: number | undefined): Promise<Server<SocketRequest>> {
  switch (spec.transport) {
    case 'tls':
    case 'tcp':
      return TCPServer.listen({ host: spec.host, port: spec.port })
    case 'tls-unix':
    case 'unix':
      return UnixStreamServer.listen({ path: spec.path })
    case 'udp':
      return UDPServer.bind({ host: spec.host, port: spec.port, maxPacketSize })
    case 'unix-dgram':
      return UnixDatagramServer.bind({ path: spec.path, maxPacketSize })
  }
}

/**
 * A server for each socket the parent passed in (`--listen-fds`), of its
 * own kind; stream ones expect a PROXY header with `--proxy-protocol`. In a
 * supervisor's worker, those sockets are its listeners after the bound ones.
 */
async function bindInherited(config: ServeCommand, worker: SupervisedWorker | undefined): Promise<Array<Server<SocketRequest>>> {
  const options = { maxPacketSize: config.maxPacketSize }
  const first = config.listeners.length
  const makers: Array<() => Promise<Server<SocketRequest>>> =
    worker !== undefined
      ? worker.listeners.slice(first).map((_, offset) => () => worker.server(first + offset, options))
      : listenFds().map(
          ({ fd }) =>
            () =>
              serverFromFd(fd, options) as Promise<Server<SocketRequest>>,
        )
  if (makers.length === 0)
    throw new UsageError(
      'Cannot use --listen-fds: no sockets were passed to this process (LISTEN_FDS and LISTEN_PID are not set for it, as systemd or systemd-socket-activate set them)',
    )
  const servers: Array<Server<SocketRequest>> = []
  try {
    for (const make of makers) {
      const server = await make()
      const transport = server.address.transport
      servers.push(
        transport === 'tcp' || transport === 'unix'
          ? await behindProxy(Promise.resolve(server as unknown as Server<StreamRequest>), config)
          : server,
      )
    }
  } catch (error) {
    await Promise.all(servers.map((server) => server.close()))
    throw error
  }
  return servers
}

/** A stream listener that speaks TLS (after the PROXY header, with `--proxy-protocol`). */
async function overTLS(listening: Promise<Server<SocketRequest>>, options: TLSOptions, files: TLSFiles): Promise<Server<SocketRequest>> {
  const server = await listening
  try {
    return withTLS(server as unknown as Server<StreamRequest>, options) as unknown as Server<SocketRequest>
  } catch (error) {
    await server.close()
    if (!(error instanceof InvalidOptionError)) throw error
    throw new UsageError(
      `Cannot use --tls-cert ${JSON.stringify(files.tlsCert)} with --tls-key ${JSON.stringify(files.tlsKey)}: ${error.message}`,
    )
  }
}

/** The TLS files, read; a file that cannot be read is named. */
function readTLS(files: TLSFiles): TLSOptions {
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path)
    } catch (error) {
      throw new UsageError(`Cannot read ${flag} ${JSON.stringify(path)}: ${(error as Error).message}`)
    }
  }
  const options: TLSOptions = { key: read('--tls-key', files.tlsKey as string), cert: read('--tls-cert', files.tlsCert as string) }
  if (files.tlsCa !== undefined) options.ca = read('--tls-ca', files.tlsCa)
  if (files.tlsClientCertificate !== undefined) options.clientCertificate = files.tlsClientCertificate
  if (files.tlsHandshakeTimeoutMs !== undefined) options.handshakeTimeoutMs = files.tlsHandshakeTimeoutMs
  return options
}

/** A stream listener wrapped to read PROXY headers, when `--proxy-protocol` asks for it. */
async function behindProxy(listening: Promise<Server<StreamRequest>>, config: ServeCommand): Promise<Server<SocketRequest>> {
  const server = await listening
  if (config.proxyProtocol === undefined) return server
  return withProxyProtocol(server, {
    version: config.proxyProtocol,
    trustedProxies: config.trustedProxies,
  }) as unknown as Server<SocketRequest>
}

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  return manifest.version
}
