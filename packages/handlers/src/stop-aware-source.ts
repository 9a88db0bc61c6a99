/**
 * A connection's `request.source` takes a reader's say-so on whether a read
 * waits in the middle of a message (`midMessage`, see core's
 * `ConnectionSource`): a server's stop then lets that read wait for the
 * rest. Other sources do not have it.
 *
 * @module
 * @internal
 */

/** A source that takes the say-so. */
export interface StopAwareSource {
  midMessage: boolean
}

/** `source` when it takes the say-so (it has a boolean `midMessage`), else undefined. */
export function stopAwareSource(source: object): StopAwareSource | undefined {
  const candidate = source as { midMessage?: unknown }
  return typeof candidate.midMessage === 'boolean' ? (candidate as StopAwareSource) : undefined
}
