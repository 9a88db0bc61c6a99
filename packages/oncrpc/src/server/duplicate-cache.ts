/**
 * The duplicate request cache for datagrams: a client that got no reply in
 * time sends its call again with the same xid; the cache answers the copy
 * with the first reply instead of running the procedure twice (a PUT, a
 * transfer, anything not idempotent).
 *
 * @module
 */

import { InvalidOptionError, type SocketAddress } from '@socketserver/core'

/** Options of the duplicate request cache. */
export interface DuplicateCacheOptions {
  /** The most replies kept. Default {@link DEFAULT_DUPLICATE_CACHE_ENTRIES}. */
  readonly maxEntries?: number
  /** The most bytes of replies kept. Default {@link DEFAULT_DUPLICATE_CACHE_BYTES}. */
  readonly maxBytes?: number
  /** How long a reply is kept, in ms (a retransmission after that runs again). Default {@link DEFAULT_DUPLICATE_CACHE_TTL_MS}. */
  readonly ttlMs?: number
}

/** Default {@link DuplicateCacheOptions.maxEntries}: 4,096 replies. */
export const DEFAULT_DUPLICATE_CACHE_ENTRIES = 4096
/** Default {@link DuplicateCacheOptions.maxBytes}: 8 MiB. */
export const DEFAULT_DUPLICATE_CACHE_BYTES = 8 * 1024 * 1024
/** Default {@link DuplicateCacheOptions.ttlMs}: 2 minutes, longer than any client's total timeout by default (libtirpc's is 25 s). */
export const DEFAULT_DUPLICATE_CACHE_TTL_MS = 120_000

/** What {@link DuplicateCache.begin} found. */
export type CacheLookup =
  /** A new call: run it, then give its reply to `end()`. */
  | { readonly kind: 'new' }
  /** A copy of a call that still runs: drop it (its reply is on the way). */
  | { readonly kind: 'running' }
  /** A copy of a call answered already: send this again. */
  | { readonly kind: 'answered'; readonly reply: Uint8Array }

const NEW: CacheLookup = Object.freeze({ kind: 'new' })
const RUNNING: CacheLookup = Object.freeze({ kind: 'running' })

const FREE = 0
const IN_PROGRESS = 1
const ANSWERED = 2

/**
 * Replies by caller and call, oldest evicted first; bounded in entries and
 * in bytes. A call is known by its sender's address, its xid, and its
 * length and first header words (program, version, procedure), so that a
 * client that wrapped its xids around is not answered with another call's
 * reply.
 *
 * Every field of an entry is a number in a typed array, and entries are
 * found through a Map from xid to slot: no key string and no object per
 * call. Measured (Node 20, a million calls of 64 senders): 1.1 µs per call
 * with a string key per call and an object per entry, against 0.2 µs; and
 * under `pnpm bench`'s "ONC RPC NULL calls x 64, UDP" the entry objects,
 * promoted before they were evicted, had p99 latency at 6-7 ms.
 */
export class DuplicateCache {
  readonly #maxEntries: number
  readonly #maxBytes: number
  readonly #ttlMs: number
  readonly #state: Uint8Array
  readonly #xid: Uint32Array
  readonly #sender: Uint32Array
  readonly #port: Uint32Array
  readonly #length: Uint32Array
  readonly #program: Uint32Array
  readonly #version: Uint32Array
  readonly #procedure: Uint32Array
  readonly #at: Float64Array
  /** The next slot of the same xid, or -1. */
  readonly #chain: Int32Array
  /** Where each reply is in the arena, and how long. */
  readonly #offset: Uint32Array
  readonly #replyLength: Uint32Array
  /** Bumped each time a slot is taken, so that the arena's queue knows a slot it lists was reused. */
  readonly #generation: Uint32Array
  /**
   * The replies' bytes, copied into one buffer used as a ring (made on the
   * first reply). Replies kept as objects of their own lived long enough
   * to be promoted, and collecting thousands of old ArrayBuffers had the
   * UDP NULL case at 83 k calls/s with p99 at 6.4 ms, against 105 k and
   * 1.4 ms with the cache off; in the arena, 0.9x of the latter.
   */
  #arena: Uint8Array | undefined
  #arenaAt = 0
  /** The slots whose replies are in the arena, in the order written: [slot, generation] pairs. */
  #written: Int32Array
  #writtenHead = 0
  #writtenCount = 0
  /** The first slot of each xid cached. */
  readonly #heads = new Map<number, number>()
  /** The slot the next call takes: the oldest. */
  #cursor = 0
  /** The last call begun, by identity, and its slot (see end()). */
  #lastMessage: Uint8Array | undefined
  #lastSender: SocketAddress | undefined
  #lastSlot = 0
  #size = 0
  #bytes = 0
  #hits = 0

  constructor(options: DuplicateCacheOptions = {}) {
    this.#maxEntries = atLeast(options.maxEntries ?? DEFAULT_DUPLICATE_CACHE_ENTRIES, 1, 'maxEntries')
    this.#maxBytes = atLeast(options.maxBytes ?? DEFAULT_DUPLICATE_CACHE_BYTES, 0, 'maxBytes')
    this.#ttlMs = atLeast(options.ttlMs ?? DEFAULT_DUPLICATE_CACHE_TTL_MS, 0, 'ttlMs')
    const n = this.#maxEntries
    this.#state = new Uint8Array(n)
    this.#xid = new Uint32Array(n)
    this.#sender = new Uint32Array(n)
    this.#port = new Uint32Array(n)
    this.#length = new Uint32Array(n)
    this.#program = new Uint32Array(n)
    this.#version = new Uint32Array(n)
    this.#procedure = new Uint32Array(n)
    this.#at = new Float64Array(n)
    this.#chain = new Int32Array(n).fill(-1)
    this.#offset = new Uint32Array(n)
    this.#replyLength = new Uint32Array(n)
    this.#generation = new Uint32Array(n)
    this.#written = new Int32Array(2 * n)
  }

  /** Calls kept now (running or answered). */
  get size(): number {
    return this.#size
  }

  /** Copies answered from the cache (or dropped while their call ran) so far. */
  get hits(): number {
    return this.#hits
  }

  /**
   * Looks a call up; a new one is marked running.
   *
   * @param sender - Who sent it (a datagram's `clientAddress`).
   * @param message - The call's bytes.
   */
  begin(sender: SocketAddress, message: Uint8Array): CacheLookup {
    const now = performance.now()
    const slot = this.#find(sender, message)
    if (slot >= 0) {
      if (now - (this.#at[slot] as number) <= this.#ttlMs) {
        this.#hits++
        if (this.#state[slot] === IN_PROGRESS || this.#arena === undefined) return RUNNING
        // A copy: the arena's bytes are written over later, maybe while this one is still being sent.
        const start = this.#offset[slot] as number
        return { kind: 'answered', reply: this.#arena.slice(start, start + (this.#replyLength[slot] as number)) }
      }
      this.#free(slot)
    }
    const taken = this.#cursor
    this.#cursor = taken + 1 === this.#maxEntries ? 0 : taken + 1
    if (this.#state[taken] !== FREE) this.#free(taken)
    this.#fill(taken, sender, message, now)
    this.#lastMessage = message
    this.#lastSender = sender
    this.#lastSlot = taken
    return NEW
  }

  /**
   * Keeps a call's reply; `undefined` (no reply, or the call failed before
   * one) forgets the call.
   *
   * @param sender - As given to `begin()`.
   * @param message - As given to `begin()`.
   * @param reply - The reply sent.
   */
  end(sender: SocketAddress, message: Uint8Array, reply: Uint8Array | undefined): void {
    // The call begun last, ended at once (a procedure that returned): its slot without a search.
    const slot =
      message === this.#lastMessage && sender === this.#lastSender && this.#state[this.#lastSlot] === IN_PROGRESS
        ? this.#lastSlot
        : this.#find(sender, message)
    if (slot < 0 || this.#state[slot] !== IN_PROGRESS) return
    if (reply === undefined || reply.length > this.#maxBytes) {
      this.#free(slot)
      return
    }
    this.#keep(slot, reply)
  }

  /** Copies a reply into the arena, evicting the replies it writes over. */
  #keep(slot: number, reply: Uint8Array): void {
    if (this.#arena === undefined) this.#arena = new Uint8Array(this.#maxBytes)
    // The ring goes back to the start: the oldest replies, between here and the end, go first (the
    // loop below stops at the first one that does not overlap, and these never would).
    const wrapsFrom = this.#arenaAt + reply.length > this.#maxBytes ? this.#arenaAt : -1
    if (wrapsFrom >= 0) this.#arenaAt = 0
    const start = this.#arenaAt
    const end = start + reply.length
    // The oldest replies are where the ring writes next: evict those in the way.
    while (this.#writtenCount > 0) {
      const at = this.#writtenHead * 2
      const oldest = this.#written[at] as number
      const current = this.#generation[oldest] === this.#written[at + 1] && this.#state[oldest] === ANSWERED
      const oldStart = this.#offset[oldest] as number
      const overlaps =
        (oldStart < end && oldStart + (this.#replyLength[oldest] as number) > start) || (wrapsFrom >= 0 && oldStart >= wrapsFrom)
      if (current && !overlaps) break
      if (current) this.#free(oldest)
      this.#writtenHead = this.#writtenHead + 1 === this.#maxEntries ? 0 : this.#writtenHead + 1
      this.#writtenCount--
    }
    if (this.#writtenCount === this.#maxEntries) {
      // The queue is full (of current slots and stale ones behind them): the oldest goes.
      const at = this.#writtenHead * 2
      const oldest = this.#written[at] as number
      if (this.#generation[oldest] === this.#written[at + 1] && this.#state[oldest] === ANSWERED) this.#free(oldest)
      this.#writtenHead = this.#writtenHead + 1 === this.#maxEntries ? 0 : this.#writtenHead + 1
      this.#writtenCount--
    }
    this.#arena.set(reply, start)
    this.#arenaAt = end
    this.#offset[slot] = start
    this.#replyLength[slot] = reply.length
    this.#state[slot] = ANSWERED
    const tail = ((this.#writtenHead + this.#writtenCount) % this.#maxEntries) * 2
    this.#written[tail] = slot
    this.#written[tail + 1] = this.#generation[slot] as number
    this.#writtenCount++
    this.#bytes += reply.length
  }

  #find(sender: SocketAddress, message: Uint8Array): number {
    if (message.length < 4) return -1
    const xid = word(message, 0)
    let slot = this.#heads.get(xid | 0) ?? -1
    if (slot < 0) return -1
    const host = senderHash(sender)
    const port = 'port' in sender ? sender.port : 0
    const program = word(message, 12)
    const version = word(message, 16)
    const procedure = word(message, 20)
    while (slot >= 0) {
      if (
        this.#sender[slot] === host &&
        this.#port[slot] === port &&
        this.#length[slot] === message.length &&
        this.#program[slot] === program &&
        this.#version[slot] === version &&
        this.#procedure[slot] === procedure
      ) {
        return slot
      }
      slot = this.#chain[slot] as number
    }
    return -1
  }

  #fill(slot: number, sender: SocketAddress, message: Uint8Array, now: number): void {
    const xid = word(message, 0)
    this.#state[slot] = IN_PROGRESS
    this.#xid[slot] = xid
    this.#sender[slot] = senderHash(sender)
    this.#port[slot] = 'port' in sender ? sender.port : 0
    this.#length[slot] = message.length
    this.#program[slot] = word(message, 12)
    this.#version[slot] = word(message, 16)
    this.#procedure[slot] = word(message, 20)
    this.#at[slot] = now
    this.#generation[slot] = ((this.#generation[slot] as number) + 1) >>> 0
    // Keys as int32: an xid over 2^31 would be a heap number, allocated and hashed as one.
    this.#chain[slot] = this.#heads.get(xid | 0) ?? -1
    this.#heads.set(xid | 0, slot)
    this.#size++
  }

  #free(slot: number): void {
    const xid = (this.#xid[slot] as number) | 0
    // Unlink the slot from its xid's chain.
    const head = this.#heads.get(xid) ?? -1
    if (head === slot) {
      const next = this.#chain[slot] as number
      if (next < 0) this.#heads.delete(xid)
      else this.#heads.set(xid, next)
    } else {
      for (let at = head; at >= 0; at = this.#chain[at] as number) {
        if (this.#chain[at] === slot) {
          this.#chain[at] = this.#chain[slot] as number
          break
        }
      }
    }
    if (this.#state[slot] === ANSWERED) this.#bytes -= this.#replyLength[slot] as number
    this.#chain[slot] = -1
    this.#state[slot] = FREE
    this.#size--
  }
}

/** A big-endian word of a message, 0 past its end. */
function word(message: Uint8Array, at: number): number {
  if (message.length < at + 4) return 0
  return (
    (((message[at] as number) << 24) |
      ((message[at + 1] as number) << 16) |
      ((message[at + 2] as number) << 8) |
      (message[at + 3] as number)) >>>
    0
  )
}

/** FNV-1a of the sender's host (or path). */
function senderHash(sender: SocketAddress): number {
  const text = 'host' in sender ? sender.host : (sender.path ?? '')
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  return hash >>> 0
}

function atLeast(value: number, least: number, name: string): number {
  if (!Number.isFinite(value) || !Number.isInteger(value) || value < least) {
    throw new InvalidOptionError(
      `duplicateCache.${name}`,
      `Cannot use duplicateCache.${name} ${String(value)}: expected a whole number of at least ${least}`,
    )
  }
  return value
}
