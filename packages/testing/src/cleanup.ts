/**
 * Registers clean-up with the running vitest test, as soon as a resource
 * exists (httptest's `t.Cleanup`).
 *
 * @module
 */

import { onTestFinished } from 'vitest'

/**
 * Runs `fn` when the current test finishes, pass or fail. Outside a test
 * (in `beforeAll`, or in a script) nothing is registered and the caller must
 * clean up.
 *
 * @param fn - The clean-up; its rejection fails the test.
 * @returns Whether the clean-up was registered.
 * @example
 * ```ts
 * const dir = mkdtempSync(join(tmpdir(), 'x-'))
 * registerCleanup(() => rm(dir, { recursive: true, force: true }))
 * ```
 */
export function registerCleanup(fn: () => unknown): boolean {
  try {
    onTestFinished(async () => {
      await fn()
    })
    return true
  } catch {
    return false
  }
}
