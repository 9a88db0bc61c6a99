/**
 * The child processes of the `forked()` policy: started on demand, serving
 * `concurrency` requests at a time each (1 by default), reused, replaced
 * when they die or have served their share, and all ended on close.
 *
 * @module
 * @internal
 */

import { type ChildProcess, fork } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { formatAddress } from '../address.js'
import {
  ClientDisconnectedError,
  HandlerError,
  ReplyError,
  RequestTimeoutError,
  ServerClosedError,
  WorkerCrashedError,
  WorkerStartError,
} from '../errors.js'
import type { Request } from '../types.js'
import {
  deserializeError,
  type FailureKind,
  type FromChild,
  MODULE_ENV,
  type SerializedError,
  serializeError,
  type ToChild,
} from './forked-protocol.js'

/** How long a closing pool waits for a child to exit after disconnecting it, before SIGKILL. */
const EXIT_GRACE_MS = 2_000

/** Settings of a {@link ChildPool}. */
export interface ChildPoolSettings {
  /** The handler module, as a file URL. */
  moduleUrl: string
  /** Requests one child serves at once. */
  concurrency: number
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

/** What the child told about one request, and how to end it. */
interface PendingRequest {
  onMessage(message: FromChild): void
  onExit(code: number | null, signal: NodeJS.Signals | null): void
}

/** One child process, serving up to `concurrency` requests at once. */
class Child {
  readonly process: ChildProcess
  /** Requests finished. */
  served = 0
  /** Requests given to it (running or finished). */
  assigned = 0
  /** Requests running now. */
  active = 0
  exited = false
  idleTimer: NodeJS.Timeout | undefined
  readonly exit: Promise<void>
  readonly #pending = new Map<number, PendingRequest>()
  #onExitWhileLoading: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined
  /** Why the child could not be started, when it could not. */
  #spawnError: Error | undefined

  constructor(settings: ChildPoolSettings, onExit: (child: Child) => void) {
    this.process = fork(childEntry(), [], {
      serialization: 'advanced',
      execArgv: settings.execArgv,
      env: { ...process.env, ...settings.env, [MODULE_ENV]: settings.moduleUrl },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.exit = new Promise((resolve) => {
      const exited = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.exited) return
        this.exited = true
        clearTimeout(this.idleTimer)
        this.#onExitWhileLoading?.(code, signal)
        for (const pending of [...this.#pending.values()]) pending.onExit(code, signal)
        onExit(this)
        resolve()
      }
      this.process.once('exit', exited)
      // A child that could not be started at all (EMFILE, EAGAIN) emits
      // 'error' and never 'exit': end it the same way, or the pool would
      // wait for it, and count it, forever.
      this.process.on('error', (error) => {
        if (this.process.pid !== undefined) return // an IPC write to a dying child: its exit reports it
        this.#spawnError = error
        exited(null, null)
      })
    })
    // One listener for every request: messages name their request's id.
    this.process.on('message', (message: FromChild) => {
      if (message.type === 'reply' || message.type === 'done') this.#pending.get(message.id)?.onMessage(message)
    })
  }

  /** Resolves once the child loaded the module; rejects with WorkerStartError if it cannot. */
  ready(moduleUrl: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: FromChild): void => {
        if (message.type === 'ready') finish()
        else if (message.type === 'load-error') finish(new WorkerStartError(moduleUrl, message.message))
      }
      const finish = (error?: Error): void => {
        this.process.off('message', onMessage)
        this.#onExitWhileLoading = undefined
        if (error === undefined) resolve()
        else reject(error)
      }
      this.#onExitWhileLoading = (code, signal) =>
        finish(
          new WorkerStartError(
            moduleUrl,
            this.#spawnError !== undefined
              ? `the child could not be started: ${this.#spawnError.message}`
              : `the child exited with ${signal ?? `code ${code}`} while loading`,
          ),
        )
      this.process.on('message', onMessage)
    })
  }

  /**
   * Hands a request to the child; settles when the child says it is done.
   * An aborted request (timeout, drain) is ended in the child: alone in it,
   * the child is killed with it (nothing else is lost, and a handler that
   * ignores its signal cannot linger); sharing the child, it is asked to
   * abort the request, and killed if it has not within {@link EXIT_GRACE_MS}.
   */
  serve(request: Request, id: number, concurrency: number): Promise<void> {
    const clientText = formatAddress(request.clientAddress)
    return new Promise<void>((resolve, reject) => {
      let killTimer: NodeJS.Timeout | undefined
      const onAbort = (): void => {
        if (concurrency === 1) {
          this.process.kill('SIGKILL')
          return
        }
        this.#send({ type: 'abort', id })
        killTimer ??= setTimeout(() => this.process.kill('SIGKILL'), EXIT_GRACE_MS)
        killTimer.unref()
      }
      // Serving is stopping: the child's request learns it too (its idle
      // reads end there).
      const onStop = (): void => this.#send({ type: 'stop', id })
      // A request of another library may have no stop notice.
      const stopping = (request as Partial<Request>).stopping
      const finish = (error?: Error): void => {
        this.#pending.delete(id)
        clearTimeout(killTimer)
        request.signal.removeEventListener('abort', onAbort)
        stopping?.removeEventListener('abort', onStop)
        if (error === undefined) resolve()
        else reject(error)
      }
      this.#pending.set(id, {
        onMessage: (message) => {
          if (message.type === 'reply' && request.kind === 'datagram') {
            request.reply(message.data).then(
              () => this.#send({ type: 'reply-result', id, seq: message.seq }),
              (error: unknown) => this.#send({ type: 'reply-result', id, seq: message.seq, error: serializeError(error) }),
            )
          } else if (message.type === 'done') {
            finish(
              message.error === undefined
                ? undefined
                : rebuiltFailure(message.error, message.failure, message.timeoutMs, request, clientText),
            )
          }
        },
        onExit: (code, signal) => finish(new WorkerCrashedError(code, signal, request.clientAddress, clientText)),
      })
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
      // After the request was sent, so an abort message finds it in the child.
      request.signal.addEventListener('abort', onAbort)
      stopping?.addEventListener('abort', onStop)
      if (stopping?.aborted === true) onStop()
      if (request.signal.aborted) onAbort()
    })
  }

  #send(message: ToChild): void {
    if (!this.exited && this.process.connected) this.process.send(message)
  }

  /** Lets the child go: it exits when its channel closes; SIGKILL after a grace period. */
  async stop(): Promise<void> {
    if (this.exited) return
    if (this.process.connected) this.process.disconnect()
    const timer = setTimeout(() => this.process.kill('SIGKILL'), EXIT_GRACE_MS)
    await this.exit
    clearTimeout(timer)
  }
}

/**
 * The children of one `forked()` policy. A request goes to a child with a
 * free slot (the most recently freed first, so the others can idle out),
 * else to a new child while fewer than `maxChildren` exist, else waits for
 * the first slot that frees.
 */
export class ChildPool {
  readonly #settings: ChildPoolSettings
  readonly #children = new Set<Child>()
  /** Live children with a free slot. */
  readonly #available: Child[] = []
  #nextId = 0
  #warm = 0
  #closing = false
  readonly #waiting: Array<{ resolve: (child: Child) => void; reject: (error: unknown) => void }> = []
  #starting = 0

  constructor(settings: ChildPoolSettings) {
    this.#settings = settings
  }

  /** Process ids of the live children. */
  get pids(): number[] {
    return [...this.#children].filter((child) => !child.exited).map((child) => child.process.pid ?? -1)
  }

  /** Starts `count` children and waits until each loaded the module. */
  async prefork(count: number): Promise<void> {
    this.#closing = false
    this.#warm = count
    const started = await Promise.allSettled(Array.from({ length: count }, () => this.#start()))
    const failed = started.find((result) => result.status === 'rejected')
    for (const result of started) if (result.status === 'fulfilled') this.#offer(result.value)
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason
  }

  /** Serves one request in a child; rejects as the child's handler did. */
  async dispatch(request: Request): Promise<void> {
    const child = this.#takeSlot() ?? (await this.#acquire(request))
    if (request.signal.aborted) {
      // It timed out (or the drain ended it) while a slot was being found:
      // give the slot back untouched rather than send a dead request.
      child.active--
      child.assigned--
      this.#offer(child)
      throw request.signal.reason
    }
    clearTimeout(child.idleTimer)
    try {
      await child.serve(request, ++this.#nextId, this.#settings.concurrency)
    } finally {
      child.active--
      child.served++
      this.#offer(child)
    }
  }

  /** Ends every child (each finishes what it runs first). */
  async close(): Promise<void> {
    this.#closing = true
    this.#available.length = 0
    const closed = new ServerClosedError('Cannot serve the request: the forked() policy is closing its children')
    for (const waiter of this.#waiting.splice(0)) waiter.reject(closed)
    await Promise.all([...this.#children].map((child) => child.stop()))
  }

  /** Whether `child` may be given one more request. */
  #hasSlot(child: Child): boolean {
    return !child.exited && child.active < this.#settings.concurrency && child.assigned < this.#settings.maxRequestsPerChild
  }

  /** Takes a slot of an available child, if there is one. */
  #takeSlot(): Child | undefined {
    const child = this.#available.at(-1)
    if (child === undefined) return undefined
    this.#assign(child)
    if (!this.#hasSlot(child)) this.#available.pop()
    return child
  }

  #assign(child: Child): void {
    child.active++
    child.assigned++
  }

  /** Waits for a slot; a request aborted meanwhile leaves the queue at once. */
  #acquire(request: Request): Promise<Child> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.#waiting.indexOf(waiter)
        if (index !== -1) this.#waiting.splice(index, 1)
        reject(request.signal.reason)
      }
      const waiter = {
        resolve: (child: Child) => {
          request.signal.removeEventListener('abort', onAbort)
          resolve(child)
        },
        reject: (error: unknown) => {
          request.signal.removeEventListener('abort', onAbort)
          reject(error)
        },
      }
      this.#waiting.push(waiter)
      request.signal.addEventListener('abort', onAbort, { once: true })
      this.#startForWaiting()
    })
  }

  /** Starts a child for the waiting requests that children being started will not take. */
  #startForWaiting(): void {
    const coming = this.#starting * this.#settings.concurrency
    if (this.#closing || coming >= this.#waiting.length || this.#children.size >= this.#settings.maxChildren) return
    this.#starting++
    this.#start().then(
      (child) => {
        this.#starting--
        this.#offer(child)
      },
      (error: unknown) => {
        this.#starting--
        // Every request this child would have taken fails with it.
        for (const waiter of this.#waiting.splice(0, this.#settings.concurrency)) waiter.reject(error)
      },
    )
  }

  async #start(): Promise<Child> {
    const child = new Child(this.#settings, (gone) => {
      this.#children.delete(gone)
      const index = this.#available.indexOf(gone)
      if (index !== -1) this.#available.splice(index, 1)
      // One of the waiting requests may need a new child now.
      this.#startForWaiting()
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

  /** Keeps `prefork` children warm after one is retired. */
  #topUp(): void {
    if (this.#closing || this.#available.length >= this.#warm) return
    this.#start().then(
      (child) => (this.#closing ? void child.stop() : this.#offer(child)),
      () => {
        // A child that cannot start now is retried on demand by dispatch().
      },
    )
  }

  /**
   * A child has a free slot (it is new, or a request finished): retire it
   * if it served its share, else give its free slots to waiting requests,
   * else make it available, and let it idle out once it runs nothing.
   */
  #offer(child: Child): void {
    if (child.exited) return
    if (child.assigned >= this.#settings.maxRequestsPerChild) {
      if (child.active === 0) {
        void child.stop()
        this.#topUp()
      }
      return
    }
    while (this.#hasSlot(child) && this.#waiting.length > 0) {
      this.#assign(child)
      this.#waiting.shift()?.resolve(child)
    }
    if (!this.#hasSlot(child)) return
    if (!this.#available.includes(child)) this.#available.push(child)
    if (child.active > 0) return
    clearTimeout(child.idleTimer)
    child.idleTimer = setTimeout(() => {
      if (child.active > 0) return
      const index = this.#available.indexOf(child)
      if (index !== -1) this.#available.splice(index, 1)
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

/** A child's failure in the shape a request served in this process reports. */
function rebuiltFailure(
  serialized: SerializedError,
  kind: FailureKind | undefined,
  timeoutMs: number | undefined,
  request: Request,
  clientText: string,
): Error {
  const error = deserializeError(serialized)
  if (kind === 'timeout' && timeoutMs !== undefined) {
    // A handler's idle timeout in the child: the same error as in this process, with the child's message.
    return Object.assign(new RequestTimeoutError(timeoutMs, 'idle wait'), { message: error.message })
  }
  if (kind === 'disconnect') return new ClientDisconnectedError(request.clientAddress, error, clientText)
  if (kind === 'reply') return new ReplyError(request.clientAddress, error.message, serialized.code ?? 'SS_ERR_REPLY', { cause: error })
  return new HandlerError(request.clientAddress, error, clientText)
}
