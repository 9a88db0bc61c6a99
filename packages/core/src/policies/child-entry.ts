/**
 * Where the `forked()` policy's children come from: the compiled child
 * program, and the handler module each of them imports.
 *
 * @module
 * @internal
 */

import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { WorkerStartError } from '../errors.js'

/**
 * The compiled child program. Run from source (tests), it is still the
 * built one: the `src/policies/` of this file becomes `dist/policies/`.
 *
 * @throws WorkerStartError when the package was not built.
 */
export function childEntry(): string {
  const here = fileURLToPath(new URL('./forked-child.js', import.meta.url))
  if (existsSync(here)) return here
  const built = here.replace(/([\\/])src([\\/])policies([\\/])/, '$1dist$2policies$3')
  if (existsSync(built)) return built
  throw new WorkerStartError(here, 'the compiled child program is missing; build the package first')
}

/**
 * Turns a module path or URL into the file URL a child imports. Relative
 * paths resolve against the current directory.
 */
export function moduleUrlOf(module: string | URL): string {
  if (module instanceof URL) return module.href
  if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[a-z]:[\\/]/i.test(module)) return module
  return pathToFileURL(module.startsWith('/') ? module : `${process.cwd()}/${module}`).href
}
