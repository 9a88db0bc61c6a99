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
  /**
   * The listeners in order: the descriptor each was inherited as (-1 for a
   * Unix datagram listener, whose datagrams the supervisor relays), and its address.
   */
  listeners: Array<{ fd: number; address: SocketAddress }>
}

/** Worker → supervisor. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  /** A reply to relayed datagram `id`, to send from listener `listener`'s socket. */
  | { type: 'reply'; listener: number; id: number; seq: number; data: Uint8Array }
  /** Relayed datagram `id` was served. */
  | { type: 'datagram-done'; id: number }
  /** Relayed datagram `id` was not taken (the worker is stopping): the supervisor gives it to another. */
  | { type: 'datagram-returned'; id: number }

/** Supervisor → worker. */
export type ToWorker =
  | { type: 'stop' }
  /** A datagram listener `listener` received, to serve. */
  | { type: 'datagram'; listener: number; id: number; data: Uint8Array; from: SocketAddress }
  /** How reply `seq` went (an error message when it failed). */
  | { type: 'reply-result'; listener: number; seq: number; error?: string }
