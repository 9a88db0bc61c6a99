/**
 * Runs work a whole turn of the event loop later, after the I/O poll in
 * between: by then the kernel has delivered what it held for a socket that
 * was just resumed. One pair of immediates serves everything scheduled in
 * a turn (a stop with 10,000 idle connections schedules two, not 20,000).
 *
 * @module
 * @internal
 */

/** What {@link afterNextPoll} runs. */
export interface AfterPoll {
  afterPoll(): void
}

let scheduled: AfterPoll[] = []
let turnScheduled = false

/**
 * Calls `item.afterPoll()` after the next turn of the event loop and its
 * I/O poll.
 *
 * @example
 * ```ts
 * afterNextPoll(reader) // reader.afterPoll() runs once the next poll is over
 * ```
 */
export function afterNextPoll(item: AfterPoll): void {
  scheduled.push(item)
  if (turnScheduled) return
  turnScheduled = true
  setImmediate(startOfNextTurn)
}

function startOfNextTurn(): void {
  const items = scheduled
  scheduled = []
  turnScheduled = false
  // An immediate runs after this turn's poll; the next one after the
  // following poll, which delivers what the kernel holds.
  setImmediate(runEach, items)
}

function runEach(items: AfterPoll[]): void {
  for (const item of items) item.afterPoll()
}
