/**
 * The supervisor: binds every listener once, runs N workers that inherit
 * them, replaces the ones that crash, and rolls them over without closing a
 * listener.
 *
 * @module
 */

import { bindSharedSocket, InvalidOptionError, type SharedSocket, type SharedSocketAddress, type SocketAddress } from '@socketserver/core'
import { DatagramRelay } from './datagram-relay.js'
import { CrashLoopError } from './errors.js'
import { type Bound, WorkerProcess } from './worker-process.js'

/** Crashes within {@link DEFAULT_CRASH_WINDOW_MS} after which the supervisor gives up. */
export const DEFAULT_MAX_CRASHES = 5
/** The window in which {@link DEFAULT_MAX_CRASHES} crashes stop the supervisor. */
export const DEFAULT_CRASH_WINDOW_MS = 30_000
/** How long a worker may take to become ready. */
export const DEFAULT_READY_TIMEOUT_MS = 30_000
/** How long a stopping worker may drain before it is killed. */
export const DEFAULT_STOP_TIMEOUT_MS = 35_000

/** Options of {@link Supervisor.start}. */
export interface SupervisorOptions {
  /**
   * The worker: a program and its arguments, such as
   * `[process.execPath, 'worker.js']`. It finds its listeners with
   * `supervisedWorker()`, and must call its `ready()`.
   */
  command: readonly string[]
  /**
   * What to bind, once, for every worker (none when the workers serve
   * sources of their own, such as a table of jobs); or sockets already bound (from
   * `sharedSocketFromFd()`: a supervisor that was passed its sockets by
   * systemd), which become the supervisor's to close.
   */
  listeners: ReadonlyArray<SupervisedListener>
  /** How many workers. */
  processes: number
  /** Extra environment variables for the workers. */
  env?: NodeJS.ProcessEnv
  /** After this many crashes within `crashWindowMs`, stop with a {@link CrashLoopError}. Default {@link DEFAULT_MAX_CRASHES}. */
  maxCrashes?: number
  /** Default {@link DEFAULT_CRASH_WINDOW_MS}. */
  crashWindowMs?: number
  /** A worker not ready by then is killed (at start, it fails the start). Default {@link DEFAULT_READY_TIMEOUT_MS}. */
  readyTimeoutMs?: number
  /** A worker asked to stop and still running after this is killed. Default {@link DEFAULT_STOP_TIMEOUT_MS} (the drain's 30 s, and some). */
  stopTimeoutMs?: number
  /** How long relayed Unix datagrams may still be served when stopping (the workers' own drain). Default 30 s. */
  drainTimeoutMs?: number
  /** Told of each worker's life: started, ready, exited, crashed, replaced. */
  onEvent?: (event: SupervisorEvent) => void
}

/**
 * A listener of the workers: an address to bind, a socket already bound,
 * or a Unix datagram socket's path (bound here and relayed: Node cannot
 * adopt an inherited Unix datagram socket).
 */
export type SupervisedListener =
  | SharedSocketAddress
  | SharedSocket
  | { readonly transport: 'unix-dgram'; readonly path: string; readonly maxPacketSize?: number }

/** What happened to a worker. */
export interface SupervisorEvent {
  readonly type: 'started' | 'ready' | 'stopping' | 'exited' | 'crashed' | 'replacing' | 'datagram-failed'
  /** The worker's; -1 for a `datagram-failed` that no worker took. */
  readonly pid: number
  /** For `datagram-failed`: why a relayed Unix datagram was not served. */
  readonly error?: unknown
  /** For `exited` and `crashed`. */
  readonly code?: number | null
  readonly signal?: NodeJS.Signals | null
  /** For `replacing`: the wait before the new worker starts. */
  readonly delayMs?: number
}

/** The options with their defaults. */
type ResolvedOptions = Required<Omit<SupervisorOptions, 'env' | 'onEvent'>> & Pick<SupervisorOptions, 'env' | 'onEvent'>

/**
 * Runs `processes` workers that serve the same listeners, each bound once
 * here and inherited by every worker (they all accept from the same
 * socket: see the README's "Many processes" for why this way). A worker
 * that crashes is replaced after a back-off (100 ms, doubling to 5 s);
 * `maxCrashes` crashes within `crashWindowMs` stop everything with a
 * {@link CrashLoopError}. {@link Supervisor.restart} replaces every worker
 * one by one, each new one ready before an old one stops; no listener is
 * closed meanwhile, so no connection waiting in a backlog is lost.
 *
 * Workers notice when the supervisor dies (their IPC channel closes) and
 * stop.
 *
 * @example
 * ```ts
 * const supervisor = await Supervisor.start({
 *   command: [process.execPath, 'worker.js'],
 *   listeners: [{ transport: 'tcp', host: '127.0.0.1', port: 8007 }],
 *   processes: 4,
 * })
 * process.on('SIGHUP', () => void supervisor.restart())
 * process.on('SIGTERM', () => void supervisor.stop())
 * await supervisor.done
 * ```
 */
export class Supervisor {
  readonly #options: ResolvedOptions
  readonly #listeners: Bound[] = []
  #nextTarget = 0
  readonly #workers = new Set<WorkerProcess>()
  readonly #crashes: number[] = []
  #stopping = false
  #restarting: Promise<void> | undefined
  readonly #replacements = new Set<NodeJS.Timeout>()
  /** The workers the rolling restart under way replaces: one of them that crashes gets its successor from the roll. */
  readonly #rollingOut = new Set<WorkerProcess>()
  readonly done: Promise<void>
  #finish!: (error?: Error) => void
  #stopped: Promise<void> | undefined

  private constructor(options: ResolvedOptions) {
    this.#options = options
    this.done = new Promise<void>((resolve, reject) => {
      this.#finish = (error) => (error === undefined ? resolve() : reject(error))
    })
    // Whoever awaits `done` sees a crash loop; nobody awaiting it is not an unhandled rejection.
    this.done.catch(() => {})
  }

  /**
   * Binds the listeners and starts the workers; resolves once every worker
   * is ready.
   *
   * @param options - The worker command, the listeners, how many workers, and limits.
   * @returns The running supervisor.
   * @throws InvalidOptionError for bad options; BindError (and the socket
   *   path errors) for a listener that cannot be bound; WorkerNotReadyError
   *   when a worker fails to start (every listener is closed again).
   */
  static async start(options: SupervisorOptions): Promise<Supervisor> {
    const resolved = resolveOptions(options)
    const supervisor = new Supervisor(resolved)
    try {
      for (const [index, listener] of resolved.listeners.entries()) await supervisor.#bind(listener, index)
    } catch (error) {
      await supervisor.#closeListeners()
      throw error
    }
    try {
      await Promise.all(Array.from({ length: resolved.processes }, () => supervisor.#startWorker('start').ready))
    } catch (error) {
      await supervisor.stop()
      throw error
    }
    return supervisor
  }

  /** Where the listeners are bound, in the order given (port 0 resolved). */
  get addresses(): SocketAddress[] {
    return this.#listeners.map((listener) => listener.address)
  }

  /** The pids of the workers alive now. */
  get pids(): number[] {
    return [...this.#workers].filter((worker) => !worker.exited).map((worker) => worker.pid)
  }

  /**
   * Replaces every worker, one at a time: a new one starts (loading its
   * code afresh) and is ready before an old one is asked to stop and
   * drains. A restart asked for during one joins it.
   *
   * @returns Settles when every old worker is gone.
   * @throws WorkerNotReadyError when a new worker fails to start: the old
   *   ones it would have replaced keep serving.
   */
  restart(): Promise<void> {
    this.#restarting ??= this.#roll().finally(() => {
      this.#restarting = undefined
    })
    return this.#restarting
  }

  /**
   * Asks every worker to stop (each drains its running requests), waits
   * for them, and closes the listeners (a Unix socket's file is removed).
   * Resolves when that is done, whatever `done` says.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop()
    return this.#stopped
  }

  async #stop(): Promise<void> {
    this.#stopping = true
    for (const timer of this.#replacements) clearTimeout(timer)
    // The relays stop taking datagrams and the workers drain, together: a
    // worker gives back what it has not taken, and the relays' drain and the
    // workers' are one (a second signal then reaches workers already stopping).
    await Promise.all([
      ...this.#listeners.map(({ relay }) => relay?.close()),
      ...[...this.#workers].map((worker) => this.#stopWorker(worker)),
    ])
    await this.#closeListeners()
    // `done` resolves, unless a crash loop rejected it first.
    this.#finish()
  }

  async #roll(): Promise<void> {
    const old = [...this.#workers].filter((worker) => !worker.stopping)
    for (const worker of old) this.#rollingOut.add(worker)
    try {
      for (const worker of old) {
        if (this.#stopping) return
        // Each old worker gets one successor, here, even one that crashed
        // meanwhile (its crash is counted, not replaced: see #exited).
        const next = this.#startWorker('roll')
        try {
          await next.ready
        } catch (error) {
          await this.#stopWorker(next)
          throw error
        }
        await this.#stopWorker(worker)
        this.#rollingOut.delete(worker)
      }
    } finally {
      // A roll that failed part-way: a worker it did not reach that crashes is a plain crash again.
      for (const worker of old) {
        this.#rollingOut.delete(worker)
        if (worker.exited && !worker.stopping && !this.#stopping) this.#replaceLater(worker)
      }
    }
  }

  #startWorker(role: WorkerProcess['role']): WorkerProcess {
    const { command, env, readyTimeoutMs } = this.#options
    const worker = new WorkerProcess(command, this.#listeners, env ?? {}, readyTimeoutMs, role)
    this.#workers.add(worker)
    this.#event({ type: 'started', pid: worker.pid })
    worker.ready.then(
      () => this.#event({ type: 'ready', pid: worker.pid }),
      () => {},
    )
    void worker.exit.then(({ code, signal }) => this.#exited(worker, code, signal))
    return worker
  }

  async #stopWorker(worker: WorkerProcess): Promise<void> {
    if (!worker.exited) this.#event({ type: 'stopping', pid: worker.pid })
    await worker.stop(this.#options.stopTimeoutMs)
  }

  #exited(worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.#workers.delete(worker)
    // Asked to stop; or never ready, started at the start or by a roll,
    // whose starter reports it (start() fails; restart() rejects, the old
    // workers staying): not a crash to replace.
    if (worker.stopping || this.#stopping || (!worker.wasReady && worker.role !== 'replacement')) {
      this.#event({ type: 'exited', pid: worker.pid, code, signal })
      return
    }
    this.#event({ type: 'crashed', pid: worker.pid, code, signal })
    const now = Date.now()
    this.#crashes.push(now)
    while ((this.#crashes[0] ?? now) < now - this.#options.crashWindowMs) this.#crashes.shift()
    if (this.#crashes.length >= this.#options.maxCrashes) {
      const error = new CrashLoopError(this.#crashes.length, this.#options.crashWindowMs, code, signal)
      // Settled before stop() resolves it: the error is the outcome.
      this.#finish(error)
      void this.stop().catch(() => {})
      return
    }
    // One the rolling restart replaces gets its successor from the roll.
    if (!this.#rollingOut.has(worker)) this.#replaceLater(worker)
  }

  /** Starts a successor for a crashed worker after the back-off. */
  #replaceLater(worker: WorkerProcess): void {
    if (worker.replaced) return
    worker.replaced = true
    const delayMs = Math.min(5_000, 100 * 2 ** Math.max(0, this.#crashes.length - 1))
    this.#event({ type: 'replacing', pid: worker.pid, delayMs })
    const timer = setTimeout(() => {
      this.#replacements.delete(timer)
      if (!this.#stopping) this.#startWorker('replacement')
    }, delayMs)
    this.#replacements.add(timer)
  }

  async #bind(listener: SupervisedListener, index: number): Promise<void> {
    if ('fd' in listener) {
      this.#listeners.push({ address: listener.address, socket: listener })
    } else if (listener.transport === 'unix-dgram') {
      const relay = await DatagramRelay.bind(
        listener,
        index,
        () => this.#nextServingWorker(),
        (error) => this.#event({ type: 'datagram-failed', pid: -1, error }),
        this.#options.drainTimeoutMs,
      )
      this.#listeners.push({ address: relay.address, relay })
    } else {
      const socket = await bindSharedSocket(listener)
      this.#listeners.push({ address: socket.address, socket })
    }
  }

  async #closeListeners(): Promise<void> {
    for (const { socket } of this.#listeners) socket?.close()
    // (Closing a relay twice is harmless.)
    await Promise.all(this.#listeners.map(({ relay }) => relay?.close()))
  }

  /** The next worker, round-robin, that serves now (relayed datagrams go to it). */
  #nextServingWorker(): WorkerProcess | undefined {
    const serving = [...this.#workers].filter((worker) => worker.serving)
    if (serving.length === 0) return undefined
    this.#nextTarget = (this.#nextTarget + 1) % serving.length
    return serving[this.#nextTarget]
  }

  #event(event: SupervisorEvent): void {
    this.#options.onEvent?.(event)
  }
}

function resolveOptions(options: SupervisorOptions): ResolvedOptions {
  if (!Array.isArray(options?.command) || options.command.length === 0 || typeof options.command[0] !== 'string') {
    throw new InvalidOptionError('command', 'Cannot start workers without a command: expected [program, ...args]')
  }
  if (!Number.isInteger(options.processes) || options.processes < 1) {
    throw new InvalidOptionError(
      'processes',
      `Cannot run ${JSON.stringify(options.processes)} workers: expected a whole number of 1 or more`,
    )
  }
  // No listener is allowed: workers may serve sources of their own (a table of jobs).
  if (!Array.isArray(options.listeners)) {
    throw new InvalidOptionError(
      'listeners',
      'Cannot supervise without a list of listeners: give an array (empty when the workers open sources of their own)',
    )
  }
  const positive = (name: string, value: number | undefined, fallback: number): number => {
    const chosen = value ?? fallback
    if (!Number.isInteger(chosen) || chosen < 1)
      throw new InvalidOptionError(name, `Cannot use ${name} ${JSON.stringify(value)}: expected a whole number of 1 or more`)
    return chosen
  }
  return {
    command: options.command,
    listeners: options.listeners,
    processes: options.processes,
    env: options.env,
    onEvent: options.onEvent,
    maxCrashes: positive('maxCrashes', options.maxCrashes, DEFAULT_MAX_CRASHES),
    crashWindowMs: positive('crashWindowMs', options.crashWindowMs, DEFAULT_CRASH_WINDOW_MS),
    readyTimeoutMs: positive('readyTimeoutMs', options.readyTimeoutMs, DEFAULT_READY_TIMEOUT_MS),
    stopTimeoutMs: positive('stopTimeoutMs', options.stopTimeoutMs, DEFAULT_STOP_TIMEOUT_MS),
    drainTimeoutMs: positive('drainTimeoutMs', (options.drainTimeoutMs ?? 30_000) + 1, 0) - 1,
  }
}
