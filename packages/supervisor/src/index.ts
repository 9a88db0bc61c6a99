/**
 * `@socketserver/supervisor`: many worker processes serving the same
 * listeners. The supervisor binds each listener once; every worker
 * inherits it and accepts from it. Workers that crash are replaced,
 * {@link Supervisor.restart} rolls them over without closing a listener,
 * and workers stop when the supervisor dies.
 *
 * @example
 * ```ts
 * // supervisor.js
 * const supervisor = await Supervisor.start({ command: [process.execPath, 'worker.js'], listeners, processes: 4 })
 * // worker.js
 * const worker = supervisedWorker()
 * const servers = await worker.servers()
 * const serving = servers.map((server) => serve(server, handler, { signal: worker.signal }))
 * worker.ready()
 * ```
 *
 * @packageDocumentation
 */

export { CrashLoopError, WorkerNotReadyError } from './errors.js'
export {
  DEFAULT_CRASH_WINDOW_MS,
  DEFAULT_MAX_CRASHES,
  DEFAULT_READY_TIMEOUT_MS,
  DEFAULT_STOP_TIMEOUT_MS,
  type SupervisedListener,
  Supervisor,
  type SupervisorEvent,
  type SupervisorOptions,
} from './supervisor.js'
export { type SupervisedWorker, supervisedWorker } from './worker.js'
