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
