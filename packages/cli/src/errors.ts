/**
 * Typed errors of `@socketserver/cli`.
 *
 * @module
 */

import { SocketServerError } from '@socketserver/core'

/**
 * The command line is wrong: an unknown service or flag, a bad address, a
 * missing listener. The command prints it and exits with status 2.
 *
 * @example
 * ```ts
 * try { parseArgs(['serve']) } catch (err) { if (err instanceof UsageError) console.error(err.message) }
 * ```
 */
export class UsageError extends SocketServerError {
  /** @param message - What is wrong, for the user. */
  constructor(message: string) {
    super(message, 'SS_ERR_USAGE')
  }
}

/**
 * What to print for a failure: an error's message, or the thrown value as
 * text. A module may throw anything, even a value that cannot be turned
 * into text (`Object.create(null)`), and the command must still report it.
 *
 * @param error - What was thrown.
 * @returns One line for the user.
 */
export function describeFailure(error: unknown): string {
  if (error instanceof Error) return error.message
  try {
    return String(error)
  } catch {
    return Object.prototype.toString.call(error)
  }
}
