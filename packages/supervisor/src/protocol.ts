/**
 * What a supervisor and its workers tell each other: the listeners in the
 * environment (the descriptors themselves are inherited from 3 on), and
 * messages over the IPC channel.
 *
 * @module
 * @internal
 */

import type { SocketAddress } from '@socketserver/core'

/** The environment variable that tells a worker its listeners (JSON of {@link WorkerSetup}). */
export const SUPERVISED_ENV = 'SOCKETSERVER_SUPERVISED'

/** What a worker is given. */
export interface WorkerSetup {
  /** The listeners in order: the descriptor each was inherited as, and its address. */
  listeners: Array<{ fd: number; address: SocketAddress }>
}

/** Worker → supervisor. */
export type FromWorker = { type: 'ready' } | { type: 'failed'; message: string }

/** Supervisor → worker. */
export type ToWorker = { type: 'stop' }
