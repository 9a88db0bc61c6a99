/**
 * One worker process of a supervisor: started with the listeners' sockets
 * from fd 3, watched until it says it is ready, asked to stop, and the
 * relayed datagrams it serves.
 *
 * @module
 * @internal
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { type DatagramRequest, type SharedSocket, type SocketAddress, WorkerCrashedError } from '@socketserver/core'
import type { DatagramRelay } from './datagram-relay.js'
import { WorkerNotReadyError } from './errors.js'
import { type FromWorker, SUPERVISED_ENV, type ToWorker, type WorkerSetup } from './protocol.js'

/** A relayed datagram the worker gave back untaken (it was stopping): relay it to another. */
export class ReturnedDatagram extends Error {
  constructor() {
    super('The worker gave the datagram back: it is stopping')
  }
}

/** A bound listener: shared with the workers, or relayed to them. */
export interface Bound {
  readonly address: SocketAddress
  readonly socket?: SharedSocket
  readonly relay?: DatagramRelay
}

/** One worker process. */
export class WorkerProcess {
  readonly process: ChildProcess
  readonly ready: Promise<void>
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Asked to stop: its exit is not a crash. */
  stopping = false
  /** Said it serves. */
  wasReady = false
  /** A successor was scheduled for it (once at most). */
  replaced = false
  /**
   * Why it was started: at the start or by a rolling restart (a failure to
   * start is then its starter's to report, not a crash to replace), or to
   * replace a crashed worker (whose failure to start is another crash).
   */
  readonly role: 'start' | 'roll' | 'replacement'
  #exited = false
  #spawnError: Error | undefined

  constructor(
    command: readonly string[],
    listeners: readonly Bound[],
    env: NodeJS.ProcessEnv,
    readyTimeoutMs: number,
    role: WorkerProcess['role'],
  ) {
    this.role = role
    // Shared sockets at 3, 4, ... in order; a relayed listener has none (-1).
    const fds: number[] = []
    const setup: WorkerSetup = {
      listeners: listeners.map(({ socket, address }) => {
        if (socket === undefined) return { fd: -1, address }
        fds.push(socket.fd)
        return { fd: 2 + fds.length, address }
      }),
    }
    const workerEnv: NodeJS.ProcessEnv = { ...process.env, ...env, [SUPERVISED_ENV]: JSON.stringify(setup) }
    // The service manager hears from the supervisor only (systemd's NotifyAccess=main).
    delete workerEnv.NOTIFY_SOCKET
    this.process = spawn(command[0] as string, command.slice(1), {
      // The listeners at 3, 4, ... (as socket activation passes them), the channel after them.
      stdio: ['ignore', 'inherit', 'inherit', ...fds, 'ipc'],
      env: workerEnv,
      // Relayed datagrams and replies cross as bytes.
      serialization: 'advanced',
    })
    this.exit = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        this.#exited = true
        this.#exitStatus = { code, signal }
        resolve({ code, signal })
      })
      // No more messages can come once the channel is closed (after the
      // last of them was read, unlike 'exit'): datagrams it was serving fail then.
      this.process.once('disconnect', () => this.#failRelayed())
      // Errors are sends to a worker that just died (EPIPE), or a spawn that failed.
      this.process.on('error', (error) => {
        if (this.process.pid === undefined) {
          // It could not be started at all (no such program, EAGAIN).
          this.#spawnError = error
          this.#exited = true
          resolve({ code: null, signal: null })
        }
      })
    })
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new WorkerNotReadyError(`it was not ready within readyTimeoutMs (${readyTimeoutMs} ms)`))
        this.process.kill('SIGKILL')
      }, readyTimeoutMs)
      this.process.on('message', (message: FromWorker) => {
        if (message?.type === 'reply' || message?.type === 'datagram-done' || message?.type === 'datagram-returned')
          this.#onRelayMessage(message)
        else if (message?.type === 'ready') {
          clearTimeout(timer)
          this.wasReady = true
          resolve()
        } else if (message?.type === 'failed') {
          clearTimeout(timer)
          reject(new WorkerNotReadyError(message.message))
        }
      })
      void this.exit.then(({ code, signal }) => {
        clearTimeout(timer)
        const spawnError = this.#spawnError
        reject(
          new WorkerNotReadyError(
            spawnError !== undefined
              ? `it could not be started (${spawnError.message})`
              : `it exited with ${signal ?? `code ${code}`} before it was ready`,
          ),
        )
      })
    })
    // A rejection nobody waits for (a worker that fails after start) is handled by its exit.
    this.ready.catch(() => {})
  }

  get pid(): number {
    return this.process.pid ?? -1
  }

  /** Whether it may be given relayed datagrams now. */
  get serving(): boolean {
    return this.wasReady && !this.stopping && !this.#exited && !this.#unreachable && this.process.connected
  }

  /** A send to it failed (it died; its channel may still look connected until its end is read). */
  #unreachable = false

  readonly #relayed = new Map<number, { request: DatagramRequest; resolve: () => void; reject: (error: Error) => void }>()
  #nextDatagram = 0
  #exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined

  /** Fails every datagram it was serving: it is gone. */
  #failRelayed(): void {
    const { code = null, signal = null } = this.#exitStatus ?? {}
    for (const relayed of this.#relayed.values()) relayed.reject(new WorkerCrashedError(code, signal, relayed.request.clientAddress))
    this.#relayed.clear()
  }

  /**
   * Hands a datagram of listener `listener` to it; resolves once it was
   * served (its replies sent from here), rejects with {@link ReturnedDatagram}
   * when the worker gave it back untaken (it is stopping), or with
   * WorkerCrashedError when it died.
   */
  relayDatagram(listener: number, request: DatagramRequest): Promise<void> {
    const id = ++this.#nextDatagram
    return new Promise((resolve, reject) => {
      const forget = (): void => {
        this.#relayed.delete(id)
      }
      // A relay abandoned here (the drain deadline passed) is forgotten: a late reply is refused.
      request.signal.addEventListener('abort', forget, { once: true })
      this.#relayed.set(id, {
        request,
        resolve: () => {
          request.signal.removeEventListener('abort', forget)
          resolve()
        },
        reject: (error) => {
          request.signal.removeEventListener('abort', forget)
          reject(error)
        },
      })
      const message: ToWorker = { type: 'datagram', listener, id, data: request.data, from: request.clientAddress }
      this.#send(message, (error) => {
        if (error === null || error === undefined) return
        // It is gone: no more datagrams for it (or the relay would retry it
        // in a loop that starves the event loop which would tell it is gone).
        this.#unreachable = true
        const relayed = this.#relayed.get(id)
        this.#relayed.delete(id)
        relayed?.reject(new ReturnedDatagram())
      })
    })
  }

  /** Sends over the channel; a send to a worker that just died is reported to `done`, never thrown. */
  #send(message: ToWorker, done: (error: Error | null | undefined) => void = () => {}): void {
    if (!this.process.connected) {
      done(new Error('the worker is gone'))
      return
    }
    this.process.send(message, undefined, {}, done)
  }

  #onRelayMessage(message: FromWorker): void {
    if (message.type === 'datagram-done' || message.type === 'datagram-returned') {
      const relayed = this.#relayed.get(message.id)
      this.#relayed.delete(message.id)
      if (message.type === 'datagram-done') relayed?.resolve()
      else relayed?.reject(new ReturnedDatagram())
    } else if (message.type === 'reply') {
      const relayed = this.#relayed.get(message.id)
      const answer = (error?: string): void => {
        const result: ToWorker = {
          type: 'reply-result',
          listener: message.listener,
          seq: message.seq,
          ...(error === undefined ? {} : { error }),
        }
        this.#send(result)
      }
      if (relayed === undefined) answer('the datagram is no longer being served')
      else
        relayed.request.reply(message.data).then(
          () => answer(),
          (error: unknown) => answer((error as Error).message ?? String(error)),
        )
    }
  }

  get exited(): boolean {
    return this.#exited
  }

  /** Asks it to stop (it drains); kills it after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true
    if (this.#exited) return
    if (this.process.connected) this.#send({ type: 'stop' })
    else this.process.kill('SIGTERM')
    const timer = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs)
    await this.exit
    clearTimeout(timer)
  }
}
