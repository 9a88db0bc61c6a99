/**
 * The child processes of the `forked()` policy: started on demand, one
 * request at a time each, reused, replaced when they die or have served
 * their share, and all ended on close.
 *
 * @module
 * @internal
 */

import { type ChildProcess, fork } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { formatAddress } from '../address.js'
import { HandlerError, WorkerCrashedError, WorkerStartError } from '../errors.js'
import type { Request } from '../types.js'
import { deserializeError, type FromChild, MODULE_ENV, serializeError, type ToChild } from './forked-protocol.js'

/** How long a closing pool waits for a child to exit after disconnecting it, before SIGKILL. */
const EXIT_GRACE_MS = 2_000

/** Settings of a {@link ChildPool}. */
export interface ChildPoolSettings {
  /** The handler module, as a file URL. */
  moduleUrl: string
  /** The most children alive at once, busy, idle or starting. */
  maxChildren: number
  maxRequestsPerChild: number
  idleTimeoutMs: number
  execArgv: string[]
  env: NodeJS.ProcessEnv
}

/** The compiled child program. Run from source (tests), it is still the built one. */
function childEntry(): string {
  const here = fileURLToPath(new URL('./forked-child.js', import.meta.url))
  if (existsSync(here)) return here
  const built = here.replace(/([\\/])src([\\/])policies([\\/])/, '$1dist$2policies$3')
  if (existsSync(built)) return built
  throw new WorkerStartError(here, 'the compiled child program is missing; build the package first')
}

/** One child process. */
class Child {
  readonly process: ChildProcess
  served = 0
  busy = false
  exited = false
  idleTimer: NodeJS.Timeout | undefined
  readonly exit: Promise<void>
  #onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined

  constructor(settings: ChildPoolSettings, onExit: (child: Child) => void) {
    this.process = fork(childEntry(), [], {
      serialization: 'advanced',
      execArgv: settings.execArgv,
      env: { ...process.env, ...settings.env, [MODULE_ENV]: settings.moduleUrl },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.exit = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        this.exited = true
        clearTimeout(this.idleTimer)
        this.#onExit?.(code, signal)
        onExit(this)
        resolve()
      })
    })
    // An IPC write to a dying child fails asynchronously; the exit handler reports it.
    this.process.on('error', () => {})
  }

  /** Resolves once the child loaded the module; rejects with WorkerStartError otherwise. */
  ready(moduleUrl: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: FromChild): void => {
        if (message.type === 'ready') finish()
        else if (message.type === 'load-error') finish(new WorkerStartError(moduleUrl, message.message))
      }
      const finish = (error?: Error): void => {
        this.process.off('message', onMessage)
        this.#onExit = undefined
        if (error === undefined) resolve()
        else reject(error)
      }
      this.#onExit = (code, signal) =>
        finish(new WorkerStartError(moduleUrl, `the child exited with ${signal ?? `code ${code}`} while loading`))
      this.process.on('message', onMessage)
    })
  }

  /** Serves one request in this child; rejects with WorkerCrashedError if it dies meanwhile. */
  serve(request: Request, id: number): Promise<void> {
    const clientText = formatAddress(request.clientAddress)
    return new Promise<void>((resolve, reject) => {
      const onMessage = (message: FromChild): void => {
        if (message.type === 'reply' && message.id === id && request.kind === 'datagram') {
          request.reply(message.data).then(
            () => this.#send({ type: 'reply-result', id, seq: message.seq }),
            (error: unknown) => this.#send({ type: 'reply-result', id, seq: message.seq, error: serializeError(error) }),
          )
        } else if (message.type === 'done' && message.id === id) {
          finish(
            message.error === undefined ? undefined : new HandlerError(request.clientAddress, deserializeError(message.error), clientText),
          )
        }
      }
      const onAbort = (): void => {
        // A request that overran its time or the drain: the child goes with it.
        this.process.kill('SIGKILL')
      }
      const finish = (error?: Error): void => {
        this.process.off('message', onMessage)
        request.signal.removeEventListener('abort', onAbort)
        this.#onExit = undefined
        if (error === undefined) resolve()
        else reject(error)
      }
      this.#onExit = (code, signal) => finish(new WorkerCrashedError(code, signal, request.clientAddress, clientText))
      this.process.on('message', onMessage)
      request.signal.addEventListener('abort', onAbort)
      if (request.signal.aborted) onAbort()
      const serverAddress = request.server.address
      if (request.kind === 'stream') {
        // The socket was accepted paused and nothing was read from it, so
        // the child gets every byte; the parent keeps nothing of it.
        const socket = request.socket
        this.process.send({ type: 'stream', id, clientAddress: request.clientAddress, serverAddress } satisfies ToChild, socket, () => {
          // Node detached the handle from our socket object without ending it;
          // destroy the empty shell so nothing here waits on it.
          socket.destroy()
        })
      } else {
        this.#send({ type: 'datagram', id, data: request.data, clientAddress: request.clientAddress, serverAddress })
      }
    })
  }

  #send(message: ToChild): void {
    if (!this.exited && this.process.connected) this.process.send(message)
  }

  /** Asks the child to leave (closing its channel), then kills it if it lingers. */
  async stop(): Promise<void> {
    if (this.exited) return
    if (this.process.connected) this.process.disconnect()
    const timer = setTimeout(() => this.process.kill('SIGKILL'), EXIT_GRACE_MS)
    await this.exit
    clearTimeout(timer)
  }
}

/**
 * The children of one `forked()` policy. Callers bound how many requests
 * run at once (the policy stage does, at `maxChildren`), so the pool starts a
 * child whenever none is idle.
 */
export class ChildPool {
  readonly #settings: ChildPoolSettings
  readonly #children = new Set<Child>()
  readonly #idle: Child[] = []
  #nextId = 0
  #warm = 0
  #closing = false
  /** Requests waiting for a child, oldest first. */
  readonly #waiting: Array<{ resolve: (child: Child) => void; reject: (error: unknown) => void }> = []
  #starting = 0

  constructor(settings: ChildPoolSettings) {
    this.#settings = settings
  }

  /** Process ids of the children alive now. */
  get pids(): number[] {
    return [...this.#children].filter((child) => !child.exited).map((child) => child.process.pid ?? -1)
  }

  /**
   * Starts `count` idle children and waits until each loaded the module.
   *
   * @throws WorkerStartError when the module cannot be loaded.
   */
  async prefork(count: number): Promise<void> {
    this.#closing = false
    this.#warm = count
    const started = await Promise.allSettled(Array.from({ length: count }, () => this.#start()))
    const failed = started.find((result) => result.status === 'rejected')
    for (const result of started) if (result.status === 'fulfilled') this.#release(result.value)
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason
  }

  /** Serves one request in an idle child, or the first one that becomes free. */
  async dispatch(request: Request): Promise<void> {
    const child = this.#idle.pop() ?? (await this.#acquire())
    clearTimeout(child.idleTimer)
    child.busy = true
    try {
      await child.serve(request, ++this.#nextId)
    } finally {
      child.busy = false
      child.served++
      this.#release(child)
    }
  }

  /** Ends every child and waits until each has exited. */
  async close(): Promise<void> {
    this.#closing = true
    this.#idle.length = 0
    await Promise.all([...this.#children].map((child) => child.stop()))
  }

  /**
   * Waits for a child: a busy one that finishes, or a new one started for
   * this request, whichever is free first. (Waiting only for a new one made
   * a client that sends its next datagram before the last one's child
   * reported back pay a whole Node start-up.)
   */
  #acquire(): Promise<Child> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject })
      this.#startForWaiting()
    })
  }

  /**
   * Starts a child for a waiting request unless enough are on their way or
   * the pool is full (then a busy child takes the request when it finishes).
   */
  #startForWaiting(): void {
    if (this.#closing || this.#starting >= this.#waiting.length || this.#children.size >= this.#settings.maxChildren) return
    this.#starting++
    this.#start().then(
      (child) => {
        this.#starting--
        this.#release(child)
      },
      (error: unknown) => {
        this.#starting--
        this.#waiting.shift()?.reject(error)
      },
    )
  }

  async #start(): Promise<Child> {
    const child = new Child(this.#settings, (gone) => {
      this.#children.delete(gone)
      const index = this.#idle.indexOf(gone)
      if (index !== -1) this.#idle.splice(index, 1)
    })
    this.#children.add(child)
    try {
      await child.ready(this.#settings.moduleUrl)
    } catch (error) {
      await child.stop()
      throw error
    }
    return child
  }

  /**
   * Starts a replacement ahead of need while fewer than `prefork` children
   * are idle, so a retired child's successor has already loaded the module
   * when the next request comes.
   */
  #topUp(): void {
    if (this.#closing || this.#idle.length >= this.#warm) return
    this.#start().then(
      (child) => (this.#closing ? void child.stop() : this.#release(child)),
      () => {
        // A child that cannot start now is retried on demand by dispatch().
      },
    )
  }

  #release(child: Child): void {
    if (child.exited) {
      // A child died: one of the waiting requests may need a new one.
      this.#startForWaiting()
      return
    }
    if (child.served >= this.#settings.maxRequestsPerChild) {
      void child.stop()
      this.#topUp()
      return
    }
    const waiter = this.#waiting.shift()
    if (waiter !== undefined) {
      waiter.resolve(child)
      return
    }
    this.#idle.push(child)
    child.idleTimer = setTimeout(() => {
      const index = this.#idle.indexOf(child)
      if (index !== -1) this.#idle.splice(index, 1)
      void child.stop()
    }, this.#settings.idleTimeoutMs)
    child.idleTimer.unref()
  }
}

/**
 * Turns a module path or URL into the file URL a child imports. Relative
 * paths resolve against the current directory.
 *
 * @internal
 */
export function moduleUrlOf(module: string | URL): string {
  if (module instanceof URL) return module.href
  if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[a-z]:[\\/]/i.test(module)) return module
  return pathToFileURL(module.startsWith('/') ? module : `${process.cwd()}/${module}`).href
}
