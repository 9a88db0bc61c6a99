/**
 * Notices when the process runs out of file descriptors.
 *
 * @module
 */

import { closeSync, openSync } from 'node:fs'
import { DescriptorsExhaustedError } from '../errors.js'

/** How often a healthy process is probed. */
const HEALTHY_PROBE_MS = 1_000
/** The first probe interval once exhausted; it doubles after each probe. */
const FIRST_BACKOFF_MS = 100
/** The longest interval between probes (and reports) while exhausted. */
const MAX_BACKOFF_MS = 5_000

/**
 * Probes for descriptor exhaustion and reports it. libuv meets `EMFILE` on
 * accept with its "reserve descriptor" trick (close a spare descriptor,
 * accept and close the pending connections, reopen the spare) and tells
 * nobody, so Node's server never emits an error. Whether a descriptor can
 * be had is what accept needs too, so this opens and closes `/dev/null`:
 * every {@link HEALTHY_PROBE_MS} while that works, and with a capped
 * exponential back-off while it fails, reporting each failed probe. The
 * timer never keeps the process alive.
 *
 * @internal
 */
export class DescriptorWatch {
  readonly #report: (error: DescriptorsExhaustedError) => void
  #timer: NodeJS.Timeout | undefined
  #exhaustedSince: number | undefined
  #backoffMs = FIRST_BACKOFF_MS

  /** @param report - Told of each failed probe. */
  constructor(report: (error: DescriptorsExhaustedError) => void) {
    this.#report = report
  }

  /** Starts probing. */
  start(): void {
    this.#schedule(HEALTHY_PROBE_MS)
  }

  /** Stops probing. */
  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => this.#probe(), delayMs)
    this.#timer.unref()
  }

  #probe(): void {
    const code = probeDescriptors()
    if (code === undefined) {
      this.#exhaustedSince = undefined
      this.#backoffMs = FIRST_BACKOFF_MS
      this.#schedule(HEALTHY_PROBE_MS)
      return
    }
    const now = Date.now()
    this.#exhaustedSince ??= now
    // Scheduled first, so a report that throws does not end the probing.
    this.#schedule(this.#backoffMs)
    this.#backoffMs = Math.min(this.#backoffMs * 2, MAX_BACKOFF_MS)
    this.#report(new DescriptorsExhaustedError(code, now - this.#exhaustedSince))
  }
}

/** `EMFILE` or `ENFILE` when no descriptor can be opened, else undefined. */
function probeDescriptors(): 'EMFILE' | 'ENFILE' | undefined {
  try {
    closeSync(openSync('/dev/null', 'r'))
    return undefined
  } catch (error) {
    const code = (error as { code?: unknown }).code
    return code === 'EMFILE' || code === 'ENFILE' ? code : undefined
  }
}
