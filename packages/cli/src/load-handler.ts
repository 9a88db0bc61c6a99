/**
 * Finds the handler a command line names: a builtin service or a module.
 *
 * @module
 */

import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Handler, Request, SocketAddress } from '@socketserver/core'
import { describeFailure, UsageError } from './errors.js'
import { BUILTIN_SERVICES } from './services/index.js'

/** A loaded handler and the module it came from (which `forked()` children import). */
export interface LoadedHandler {
  readonly handler: Handler<Request>
  readonly module: URL
  /** The builtin's name, or undefined for a user module. */
  readonly builtin: string | undefined
  /** The module's `listening` export, if it has one (see {@link ListeningHook}). */
  readonly listening: ListeningHook | undefined
}

/**
 * What a handler module may export as `listening`: called once every
 * listener is bound, before serving starts (and before the `listening`
 * lines), with the listeners (each with its `address`) and the signal that
 * stops serving. What it returns, if a function, is called after serving
 * stopped. For work that belongs to the listeners rather than to each
 * request: registering with a portmapper, say, and unregistering at the
 * end. Under `--processes` it runs once, in the supervisor (not in each
 * worker, whose restarts would take the registration back while the others
 * serve), after every worker is ready. A hook that throws stops the command
 * (exit 1).
 *
 * @example
 * ```ts
 * export async function listening(listeners) {
 *   const registration = await registerWithPortmapper(program, listeners)
 *   return () => registration.unregister()
 * }
 * ```
 */
export type ListeningHook = (
  listeners: readonly { readonly address: SocketAddress }[],
  signal: AbortSignal,
) => (() => unknown) | undefined | Promise<(() => unknown) | undefined>

/** What {@link startListening} returns: runs the hook's cleanup once serving stopped, telling `report` (never throwing) if it fails. */
export type AfterServing = (report: (message: string) => void) => Promise<void>

/**
 * Runs a module's `listening()` hook, if it has one (the same for one
 * process and for a supervisor).
 *
 * @param hook - The module's export, or undefined.
 * @param listeners - Each listener's address.
 * @param signal - Aborts when serving stops.
 * @returns The cleanup to run after serving (a no-op without one).
 * @throws Error whose message says the hook failed, with what it threw.
 */
export async function startListening(
  hook: ListeningHook | undefined,
  listeners: readonly { readonly address: SocketAddress }[],
  signal: AbortSignal,
): Promise<AfterServing> {
  let cleanup: unknown
  try {
    cleanup = await hook?.(listeners, signal)
  } catch (error) {
    throw new Error(`the module's listening() failed: ${describeFailure(error)}`, { cause: error })
  }
  return async (report) => {
    if (typeof cleanup !== 'function') return
    try {
      await cleanup()
    } catch (error) {
      report(`the cleanup listening() returned failed: ${describeFailure(error)}`)
    }
  }
}

/**
 * Loads a builtin service by name, or else imports the ES module at `service`
 * (relative to `cwd`) and takes its default export.
 *
 * @param service - `echo`, `discard`, `chargen`, `daytime`, `time`, or a module path.
 * @param cwd - Where relative paths start. Default the current directory.
 * @returns The handler and its module.
 * @throws UsageError when the name is neither a builtin nor an importable
 *   module with a handler (class or function) as its default export.
 * @example
 * ```ts
 * const { handler } = await loadHandler('./my-handler.mjs')
 * ```
 */
export async function loadHandler(service: string, cwd = process.cwd()): Promise<LoadedHandler> {
  const builtin = Object.hasOwn(BUILTIN_SERVICES, service) ? BUILTIN_SERVICES[service] : undefined
  const looksLikePath = /[\\/.]/.test(service)
  if (builtin === undefined && !looksLikePath) {
    const names = Object.keys(BUILTIN_SERVICES).join(', ')
    throw new UsageError(`Cannot serve ${JSON.stringify(service)}: it is not a builtin service (${names}) nor a module path`)
  }
  const module = builtin?.module ?? pathToFileURL(resolve(cwd, service))
  let exported: { default?: unknown; listening?: unknown }
  try {
    exported = (await import(module.href)) as { default?: unknown; listening?: unknown }
  } catch (error) {
    throw new UsageError(`Cannot load the handler module ${JSON.stringify(service)}: ${describeFailure(error)}`)
  }
  if (typeof exported.default !== 'function') {
    throw new UsageError(`Cannot use the module ${JSON.stringify(service)}: its default export is not a handler class or function`)
  }
  if (exported.listening !== undefined && typeof exported.listening !== 'function') {
    throw new UsageError(`Cannot use the module ${JSON.stringify(service)}: its listening export is not a function`)
  }
  return {
    handler: exported.default as Handler<Request>,
    module,
    builtin: builtin === undefined ? undefined : service,
    listening: exported.listening as ListeningHook | undefined,
  }
}
