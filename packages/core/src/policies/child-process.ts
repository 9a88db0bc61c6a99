/**
 * One child process of the `forked()` policy and the IPC with it.
 *
 * @module
 * @internal
 */

import { type ChildProcess, fork } from 'node:child_process'
import type { Socket } from 'node:net'
import type { SocketAddress } from '../address.js'
import { ClientDisconnectedError, HandlerError, ReplyError, RequestTimeoutError, WorkerCrashedError, WorkerStartError } from '../errors.js'
import { requestFacts } from '../servers/request-facts.js'
import type { JobRequest, Request } from '../types.js'
import { childEntry } from './child-entry.js'
import {
  deserializeError,
  type FailureKind,
  type FromChild,
  MODULE_ENV,
  type RelayedOutcome,
  type SerializedError,
  serializeError,
  type ToChild,
} from './forked-protocol.js'
import type { RelayedConnection } from './socket-relay.js'

/** How long a closing pool waits for a child to exit after disconnecting it, before SIGKILL. */
const EXIT_GRACE_MS = 2_000

/** Settings of a `forked()` policy's children. */
export interface ChildSettings {
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

/** What the child told about one request, and how to end it. */
interface PendingRequest {
  onMessage(message: FromChild): void
  onExit(code: number | null, signal: NodeJS.Signals | null): void
}

/**
 * One child process, serving up to `concurrency` requests at once, and its
 * IPC: it hands requests over, relays datagram replies, and rebuilds the
 * child's failures. It keeps its own slot counts; the pool asks it.
 */
export class Child {
  readonly process: ChildProcess
  readonly #settings: ChildSettings
  /** Requests given to it (running or finished). */
  #assigned = 0
  /** Requests running now. */
  #active = 0
  #exited = false
  #idleTimer: NodeJS.Timeout | undefined
  readonly exit: Promise<void>
  readonly #pending = new Map<number, PendingRequest>()
  #onExitWhileLoading: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined
  /** Why the child could not be started, when it could not. */
  #spawnError: Error | undefined

  constructor(settings: ChildSettings, onExit: (child: Child) => void) {
    this.#settings = settings
    this.process = fork(childEntry(), [], {
      serialization: 'advanced',
      execArgv: settings.execArgv,
      env: { ...process.env, ...settings.env, [MODULE_ENV]: settings.moduleUrl },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.exit = new Promise((resolve) => {
      const exited = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.#exited) return
        this.#exited = true
        clearTimeout(this.#idleTimer)
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
   * A `relayed` connection sends the child its end of the relay instead of
   * the request's socket.
   */
  serve(request: Request, id: number, relayed?: RelayedConnection): Promise<void> {
    const concurrency = this.#settings.concurrency
    clearTimeout(this.#idleTimer)
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
            if (message.outcome !== undefined && request.kind === 'job') recordRelayedOutcome(request, message.outcome)
            finish(message.error === undefined ? undefined : rebuiltFailure(message.error, message.failure, message.timeoutMs, request))
          }
        },
        onExit: (code, signal) => finish(new WorkerCrashedError(code, signal, request.clientAddress)),
      })
      if (request.kind === 'job') {
        // The parent keeps the job (its lease, its source); the child gets what it needs to run it.
        const { id: jobId, data, attempt, maxAttempts, clientAddress } = request
        try {
          this.process.send({
            type: 'job',
            id,
            job: { id: jobId, data, attempt, maxAttempts },
            serverAddress: clientAddress,
          } satisfies ToChild)
        } catch (error) {
          // Data that cannot cross the channel (a function, a class instance with private fields).
          finish(new Error(`Cannot hand job ${jobId} to a child process: ${(error as Error).message}`, { cause: error }))
          return
        }
      } else if (request.kind === 'stream') {
        const serverAddress = request.server.address as SocketAddress
        // The socket was accepted paused and nothing was read from it, so
        // the child gets every byte; the parent keeps nothing of it. A
        // relayed connection (TLS) sends the child its end of the relay.
        const socket = relayed?.childEnd ?? request.socket
        const message: ToChild = {
          type: 'stream',
          id,
          clientAddress: request.clientAddress,
          serverAddress,
          ...unreadAndFacts(request, socket),
        }
        try {
          this.process.send(message, socket, () => {
            // Node detached the handle from our socket object without ending it;
            // destroy the empty shell so nothing here waits on it.
            socket.destroy()
            relayed?.start()
          })
        } catch (error) {
          // A fact a wrapper added that cannot cross the channel (a function).
          finish(new Error(`Cannot hand the request to a child process: ${(error as Error).message}`, { cause: error }))
          return
        }
      } else {
        const serverAddress = request.server.address as SocketAddress
        this.#send({ type: 'datagram', id, data: request.data, clientAddress: request.clientAddress, serverAddress })
      }
      // After the request was sent, so an abort message finds it in the child.
      request.signal.addEventListener('abort', onAbort)
      stopping?.addEventListener('abort', onStop)
      if (stopping?.aborted === true) onStop()
      if (request.signal.aborted) onAbort()
    })
  }

  /** Whether the child exited (or could not start). */
  get exited(): boolean {
    return this.#exited
  }

  /** Whether it runs nothing now. */
  get idle(): boolean {
    return this.#active === 0
  }

  /** Whether it was given its `maxRequestsPerChild` and is to be retired. */
  get servedItsShare(): boolean {
    return this.#assigned >= this.#settings.maxRequestsPerChild
  }

  /** Whether it may be given one more request now. */
  get hasSlot(): boolean {
    return !this.#exited && this.#active < this.#settings.concurrency && !this.servedItsShare
  }

  /** A request is given to it. */
  claimSlot(): void {
    this.#active++
    this.#assigned++
  }

  /** A request given to it ended, served or not (`served` false: it never reached the child). */
  releaseSlot(served: boolean): void {
    this.#active--
    if (!served) this.#assigned--
  }

  /** Stops it once it has run nothing for `idleTimeoutMs`, unless it is given a request first. */
  idleOut(onIdle: () => void): void {
    clearTimeout(this.#idleTimer)
    this.#idleTimer = setTimeout(() => {
      if (this.#active > 0) return
      onIdle()
      void this.stop()
    }, this.#settings.idleTimeoutMs)
    this.#idleTimer.unref()
  }

  #send(message: ToChild): void {
    if (!this.#exited && this.process.connected) this.process.send(message)
  }

  /** Lets the child go: it exits when its channel closes; SIGKILL after a grace period. */
  async stop(): Promise<void> {
    if (this.#exited) return
    if (this.process.connected) this.process.disconnect()
    const timer = setTimeout(() => this.process.kill('SIGKILL'), EXIT_GRACE_MS)
    await this.exit
    clearTimeout(timer)
  }
}

/**
 * What a child needs beyond the socket to see the request as the parent
 * does: the bytes the parent's socket already read and holds (put back by
 * a wrapper that read a header first), which would otherwise be lost with
 * the parent's side of the handle; and the facts wrappers added as own
 * enumerable properties (`proxyAddress`, `proxy`, ...: `requestFacts()`),
 * which must be structured-cloneable.
 */
function unreadAndFacts(request: Request & { kind: 'stream' }, socket: Socket): { unread?: Uint8Array; facts?: Record<string, unknown> } {
  const found: { unread?: Uint8Array; facts?: Record<string, unknown> } = {}
  // A socket someone read from (a header reader) may still be reading from
  // the kernel: stop it, or bytes arriving until the handle has crossed
  // would be read here and lost. (`pause()` only stops the flow of events,
  // not the reads; Node offers no public way to stop them.)
  ;(socket as unknown as { _handle?: { reading?: boolean; readStop?: () => number } })._handle?.readStop?.()
  if (socket.readableLength > 0)
    found.unread = Buffer.concat([...(socket as unknown as { readableBuffer: Iterable<Buffer> }).readableBuffer])
  const facts = requestFacts(request)
  if (facts !== undefined) found.facts = facts
  return found
}

/**
 * What the child recorded for a job, recorded on the parent's job (which
 * its source stores when the request closes). A failure the child's
 * handler threw also comes as the request's error; the first outcome
 * recorded stays.
 */
function recordRelayedOutcome(job: JobRequest, outcome: RelayedOutcome): void {
  if (outcome.state === 'done') job.complete(outcome.result)
  else if (outcome.state === 'given-back') job.giveBack({ delayMs: outcome.delayMs })
  else job.fail(new HandlerError(job.clientAddress, deserializeError(outcome.error)))
}

/** A child's failure in the shape a request served in this process reports. */
function rebuiltFailure(
  serialized: SerializedError,
  kind: FailureKind | undefined,
  timeoutMs: number | undefined,
  request: Request,
): Error {
  const error = deserializeError(serialized)
  if (kind === 'timeout' && timeoutMs !== undefined) {
    // A handler's idle timeout in the child: the same error as in this process, with the child's message.
    return Object.assign(new RequestTimeoutError(timeoutMs, 'idle wait'), { message: error.message })
  }
  // Only a socket's request has a client to leave or a reply to lose.
  const client = request.clientAddress as SocketAddress
  if (kind === 'disconnect') return new ClientDisconnectedError(client, error)
  if (kind === 'reply') return new ReplyError(client, error.message, serialized.code ?? 'SS_ERR_REPLY', { cause: error })
  return new HandlerError(request.clientAddress, error)
}
