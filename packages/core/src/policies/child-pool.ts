/**
 * The children of the `forked()` policy: started on demand, serving
 * `concurrency` requests at a time each (1 by default), reused, replaced
 * when they die or have served their share, and all ended on close.
 *
 * @module
 * @internal
 */

import { ServerClosedError } from '../errors.js'
import type { Request } from '../types.js'
import { Child, type ChildSettings } from './child-process.js'
import { SocketRelay } from './socket-relay.js'

/**
 * Whether a request's connection is encrypted here (TLS): its session
 * cannot leave this process, so its bytes are relayed to the child.
 */
function isEncrypted(request: Request): request is Request & { kind: 'stream' } {
  return request.kind === 'stream' && (request.socket as { encrypted?: boolean }).encrypted === true
}

/**
 * The children of one `forked()` policy. A request goes to a child with a
 * free slot (the most recently freed first, so the others can idle out),
 * else to a new child while fewer than `maxChildren` exist, else waits for
 * the first slot that frees.
 */
export class ChildPool {
  readonly #settings: ChildSettings
  readonly #children = new Set<Child>()
  /** Live children with a free slot. */
  readonly #available: Child[] = []
  #nextId = 0
  #warm = 0
  #closing = false
  readonly #waiting: Array<{ resolve: (child: Child) => void; reject: (error: unknown) => void }> = []
  #starting = 0
  /** Made on the first TLS connection: its session stays here, its bytes are relayed. */
  readonly #relay = new SocketRelay()

  constructor(settings: ChildSettings) {
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
    const relayed = isEncrypted(request) ? await this.#relay.open(request.socket) : undefined
    let child: Child
    try {
      child = this.#takeSlot() ?? (await this.#acquire(request))
    } catch (error) {
      relayed?.destroy()
      throw error
    }
    if (request.signal.aborted) {
      // It timed out (or the drain ended it) while a slot was being found:
      // give the slot back untouched rather than send a dead request.
      child.releaseSlot(false)
      this.#offer(child)
      relayed?.destroy()
      throw request.signal.reason
    }
    try {
      await child.serve(request, ++this.#nextId, relayed)
    } finally {
      child.releaseSlot(true)
      this.#offer(child)
      // What the child wrote last may still be on its way through the
      // relay: the request closes the connection once it is all written.
      // (A relay the child never got is ended here.)
      if (relayed !== undefined && !relayed.started) relayed.destroy()
      await relayed?.finished
    }
  }

  /** Ends every child (each finishes what it runs first). */
  async close(): Promise<void> {
    this.#closing = true
    this.#available.length = 0
    const closed = new ServerClosedError('Cannot serve the request: the forked() policy is closing its children')
    for (const waiter of this.#waiting.splice(0)) waiter.reject(closed)
    await Promise.all([...this.#children].map((child) => child.stop()))
    await this.#relay.close()
  }

  /** Takes a slot of an available child, if there is one. */
  #takeSlot(): Child | undefined {
    const child = this.#available.at(-1)
    if (child === undefined) return undefined
    child.claimSlot()
    if (!child.hasSlot) this.#available.pop()
    return child
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
    if (child.servedItsShare) {
      if (child.idle) {
        void child.stop()
        this.#topUp()
      }
      return
    }
    while (child.hasSlot && this.#waiting.length > 0) {
      child.claimSlot()
      this.#waiting.shift()?.resolve(child)
    }
    if (!child.hasSlot) return
    if (!this.#available.includes(child)) this.#available.push(child)
    if (!child.idle) return
    child.idleOut(() => {
      const index = this.#available.indexOf(child)
      if (index !== -1) this.#available.splice(index, 1)
    })
  }
}
