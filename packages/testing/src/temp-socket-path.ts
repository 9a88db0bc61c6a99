/**
 * Unix socket paths in a fresh temporary directory.
 *
 * @module
 */

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { registerCleanup } from './cleanup.js'

/**
 * Makes a new private temporary directory and returns a socket path inside
 * it. Inside a test the directory is removed when the test finishes. The
 * directory is made under `os.tmpdir()`, short enough for `sun_path`.
 *
 * @param name - The file name. Default `s.sock`.
 * @returns An absolute path where nothing exists yet.
 * @example
 * ```ts
 * const server = await UnixStreamServer.listen({ path: tempSocketPath() })
 * ```
 */
export function tempSocketPath(name = 's.sock'): string {
  const dir = mkdtempSync(join(tmpdir(), 'ss-'))
  registerCleanup(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, name)
}
