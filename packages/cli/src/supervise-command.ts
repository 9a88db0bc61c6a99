/**
 * `socketserver serve ... --processes N`: this process becomes the
 * supervisor, and each worker runs the same command line without
 * `--processes`, serving the listeners bound here.
 *
 * @module
 */

import { formatAddress, listenFds, notifyServiceManager, type SharedSocket, sharedSocketFromFd } from '@socketserver/core'
import { redactPassword } from '@socketserver/jobs'
import { CrashLoopError, type SupervisedListener, Supervisor } from '@socketserver/supervisor'
import type { ListenerSpec, ServeCommand } from './args.js'
import { describeFailure, UsageError } from './errors.js'
import { type AfterServing, loadHandler, startListening } from './load-handler.js'
import type { CommandIO } from './main.js'

/**
 * Runs the supervisor until SIGINT or SIGTERM (every worker drains, exit
 * 0; a second signal ends their running requests at once); SIGHUP restarts
 * the workers one by one.
 *
 * @returns The exit status: 0 after a stop, 1 when a listener cannot be
 *   bound or the workers kept crashing, 2 when a worker cannot start (a
 *   bad handler module).
 */
export async function superviseCommand(argv: readonly string[], config: ServeCommand, io: CommandIO): Promise<number> {
  const processes = config.processes as number
  // Relayed Unix datagrams that were not served (a worker died with them,
  // none was serving, one too large): at most one line a second sums them up.
  let dropped = 0
  let lastDropLine = 0
  const reportDropped = (error: unknown): void => {
    dropped++
    if (Date.now() - lastDropLine < 1_000) return
    lastDropLine = Date.now()
    io.stderr.write(`socketserver: ${dropped} relayed datagram(s) not served so far; the last: ${describeFailure(error)}\n`)
  }
  const command = [process.execPath, ...process.execArgv, process.argv[1] as string, ...withoutProcesses(argv)]
  let supervisor: Supervisor
  try {
    // Sockets systemd passed in go to the workers as they are, after the bound ones.
    const inherited = config.listenFds ? inheritedSockets() : []
    supervisor = await Supervisor.start({
      command,
      listeners: [...config.listeners.map((spec) => sharedAddress(spec, config.maxPacketSize)), ...inherited],
      processes,
      stopTimeoutMs: (config.drainTimeoutMs ?? 30_000) + 5_000,
      drainTimeoutMs: config.drainTimeoutMs,
      onEvent: (event) => {
        if (event.type === 'crashed')
          io.stderr.write(`socketserver: worker ${event.pid} exited with ${event.signal ?? `code ${event.code}`}; replacing it\n`)
        else if (event.type === 'datagram-failed') reportDropped(event.error)
      },
    })
  } catch (error) {
    io.stderr.write(`socketserver: ${describeFailure(error)}\n`)
    return error instanceof UsageError || (error as { code?: string }).code === 'SS_ERR_WORKER_NOT_READY' ? 2 : 1
  }
  // The module's listening() runs here, once for every worker: a worker's restart must not take back what it did.
  const stopped = new AbortController()
  let afterServing: AfterServing
  try {
    const { listening } = await loadHandler(config.service)
    afterServing = await startListening(
      listening,
      supervisor.addresses.map((address) => ({ address })),
      stopped.signal,
    )
  } catch (error) {
    io.stderr.write(`socketserver: ${(error as Error).message}\n`)
    await supervisor.stop()
    await supervisor.done.catch(() => {})
    return 1
  }
  supervisor.addresses.forEach((address, index) => {
    io.stdout.write(`listening ${config.listeners[index]?.transport ?? address.transport} ${formatAddress(address)}\n`)
  })
  // Each worker opens the tables itself; the line names them without a password.
  for (const url of config.sources) io.stdout.write(`listening source ${redactPassword(url)}\n`)
  io.stderr.write(`socketserver: ${processes} workers serving (pids ${supervisor.pids.join(', ')})\n`)
  notifyServiceManager('READY=1').catch((error: unknown) => io.stderr.write(`socketserver: ${describeFailure(error)}\n`))
  let stopping = false
  const onStop = (): void => {
    if (stopping) {
      // A second signal, as in one process: the workers end their running requests at once.
      for (const pid of supervisor.pids) process.kill(pid, 'SIGTERM')
      return
    }
    stopping = true
    stopped.abort()
    notifyServiceManager('STOPPING=1').catch(() => {})
    void supervisor.stop()
  }
  const onRestart = (): void => {
    notifyServiceManager('RELOADING=1').catch(() => {})
    supervisor.restart().then(
      () => {
        io.stderr.write(`socketserver: restarted the workers (pids ${supervisor.pids.join(', ')})\n`)
        notifyServiceManager('READY=1').catch(() => {})
      },
      (error: unknown) => io.stderr.write(`socketserver: ${describeFailure(error)}; the old workers keep serving\n`),
    )
  }
  io.signals.on('SIGINT', onStop)
  io.signals.on('SIGTERM', onStop)
  io.signals.on('SIGHUP', onRestart)
  try {
    await supervisor.done
    return 0
  } catch (error) {
    io.stderr.write(`socketserver: ${describeFailure(error)}\n`)
    return error instanceof CrashLoopError ? 1 : 1
  } finally {
    io.signals.off('SIGINT', onStop)
    io.signals.off('SIGTERM', onStop)
    io.signals.off('SIGHUP', onRestart)
    stopped.abort()
    await afterServing((message) => io.stderr.write(`socketserver: ${message}\n`))
  }
}

/** The sockets this process was passed (`--listen-fds`), to hand to the workers. */
function inheritedSockets(): SharedSocket[] {
  const passed = listenFds()
  if (passed.length === 0)
    throw new UsageError(
      'Cannot use --listen-fds: no sockets were passed to this process (LISTEN_FDS and LISTEN_PID are not set for it, as systemd or systemd-socket-activate set them)',
    )
  return passed.map(({ fd }) => sharedSocketFromFd(fd))
}

/** What the supervisor binds for a listener (a TLS one is TCP or Unix: its workers speak TLS). */
function sharedAddress(spec: ListenerSpec, maxPacketSize: number | undefined): SupervisedListener {
  switch (spec.transport) {
    case 'tcp':
    case 'tls':
      return { transport: 'tcp', host: spec.host, port: spec.port }
    case 'udp':
      return { transport: 'udp', host: spec.host, port: spec.port }
    case 'unix':
    case 'tls-unix':
      return { transport: 'unix', path: spec.path }
    case 'unix-dgram':
      // Bound by the supervisor, its datagrams relayed to the workers.
      return { transport: 'unix-dgram', path: spec.path, maxPacketSize }
  }
}

/** The command line without `--processes N` (or `--processes=N`). */
function withoutProcesses(argv: readonly string[]): string[] {
  const kept: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--processes') i++
    else if (!arg.startsWith('--processes=')) kept.push(arg)
  }
  return kept
}
