/**
 * The duplicate request cache for datagrams: a client that got no reply in
 * time sends its call again with the same xid; the cache answers the copy
 * with the first reply instead of running the procedure twice (a PUT, a
 * transfer, anything not idempotent).
 *
 * @module
 */

import { InvalidOptionError } from '@socketserver/core'

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

interface Entry {
  /** The reply; undefined while the call still runs. */
  reply: Uint8Array | undefined
  readonly at: number
}

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

/**
 * Replies by caller and call, oldest evicted first; bounded in entries and
 * in bytes. A call is known by its sender's address, its xid, and its
 * length and first header words (program, version, procedure), so that a
 * client that wrapped its xids around is not answered with another call's
 * reply.
 */
export class DuplicateCache {
  readonly #maxEntries: number
  readonly #maxBytes: number
  readonly #ttlMs: number
  readonly #entries = new Map<string, Entry>()
  #bytes = 0
  #hits = 0

  constructor(options: DuplicateCacheOptions = {}) {
    this.#maxEntries = atLeast(options.maxEntries ?? DEFAULT_DUPLICATE_CACHE_ENTRIES, 1, 'maxEntries')
    this.#maxBytes = atLeast(options.maxBytes ?? DEFAULT_DUPLICATE_CACHE_BYTES, 0, 'maxBytes')
    this.#ttlMs = atLeast(options.ttlMs ?? DEFAULT_DUPLICATE_CACHE_TTL_MS, 0, 'ttlMs')
  }

  /** Replies kept now. */
  get size(): number {
    return this.#entries.size
  }

  /** Copies answered from the cache (or dropped while their call ran) so far. */
  get hits(): number {
    return this.#hits
  }

  /** The key of a call from a sender. */
  static keyOf(sender: string, message: Uint8Array): string {
    if (message.length < 24) return `${sender}|${message.length}`
    const view = new DataView(message.buffer, message.byteOffset, 24)
    return `${sender}|${view.getUint32(0)}|${message.length}|${view.getUint32(12)}|${view.getUint32(16)}|${view.getUint32(20)}`
  }

  /** Looks a call up; a new one is marked running. */
  begin(key: string): CacheLookup {
    const entry = this.#entries.get(key)
    if (entry !== undefined) {
      if (performance.now() - entry.at <= this.#ttlMs) {
        this.#hits++
        return entry.reply === undefined ? RUNNING : { kind: 'answered', reply: entry.reply }
      }
      this.#remove(key, entry)
    }
    this.#entries.set(key, { reply: undefined, at: performance.now() })
    this.#evict()
    return NEW
  }

  /** Keeps a call's reply; `undefined` (no reply, or the call failed before one) forgets the call. */
  end(key: string, reply: Uint8Array | undefined): void {
    const entry = this.#entries.get(key)
    if (entry === undefined) return
    if (reply === undefined || reply.length > this.#maxBytes) {
      this.#remove(key, entry)
      return
    }
    entry.reply = reply
    this.#bytes += reply.length
    this.#evict()
  }

  #remove(key: string, entry: Entry): void {
    this.#entries.delete(key)
    if (entry.reply !== undefined) this.#bytes -= entry.reply.length
  }

  #evict(): void {
    while (this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const oldest = this.#entries.entries().next().value
      if (oldest === undefined) return
      this.#remove(oldest[0], oldest[1])
    }
  }
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
