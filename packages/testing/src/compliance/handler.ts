/**
 * A compliance suite for users' handlers: one handler, every stream
 * transport, every policy.
 *
 * @module
 */

import { type DatagramRequest, type Handler, type Policy, pooled, type StreamRequest, sequential } from '@socketserver/core'
import { describe, expect, test } from 'vitest'
import { type DatagramClient, openDatagramClient } from '../clients/datagram-client.js'
import { connect, type LoopbackClient } from '../clients/loopback-client.js'
import {
  DATAGRAM_TRANSPORTS,
  type DatagramTransportName,
  listen,
  listenDatagram,
  STREAM_TRANSPORTS,
  type StreamTransportName,
  serveInBackground,
} from '../listen.js'

const DEFAULT_POLICIES = (): Record<string, Policy> => ({ sequential: sequential(), pooled: pooled({ concurrency: 4 }) })

/** Options of {@link describeHandlerCompliance}. */
export interface HandlerComplianceOptions {
  /** The handler under test; `null` when the policies bring their own (`forked()`). */
  handler: Handler<StreamRequest> | null
  /** Drives one client's conversation and asserts on it (with `expect`). */
  exchange: (client: LoopbackClient) => Promise<void>
  /** Transports to cover. Default: all of `tcp4`, `tcp6`, `unix`. */
  transports?: readonly StreamTransportName[]
  /** Policies to cover, by name. Default: `sequential()` and `pooled({ concurrency: 4 })`. */
  policies?: Readonly<Record<string, Policy>>
  /** Clients that run `exchange` at once in each case. Default 3. */
  clients?: number
}

/**
 * Declares a vitest `describe` block that serves `handler` over every
 * transport with every policy, runs `exchange` for several clients at once,
 * then stops the server and expects no error reached `handleError`.
 *
 * @param title - The describe block's title.
 * @param options - Handler, conversation and matrix.
 * @example
 * ```ts
 * describeHandlerCompliance('UpperHandler', {
 *   handler: UpperHandler,
 *   exchange: async (client) => {
 *     await client.send('hi\n')
 *     expect(await client.readLine()).toBe('HI\n')
 *   },
 * })
 * ```
 */
export function describeHandlerCompliance(title: string, options: HandlerComplianceOptions): void {
  const transports = options.transports ?? STREAM_TRANSPORTS
  const policies = options.policies ?? DEFAULT_POLICIES()
  const clients = options.clients ?? 3
  describe(title, () => {
    for (const transport of transports) {
      for (const [policyName, policy] of Object.entries(policies)) {
        test(`serves ${clients} clients over ${transport} with ${policyName}`, async () => {
          const server = await listen(transport)
          const serving = serveInBackground(server, options.handler, { policy })
          await Promise.all(
            Array.from({ length: clients }, async () => {
              const client = await connect(server.address)
              try {
                await options.exchange(client)
              } finally {
                client.destroy()
              }
            }),
          )
          await serving.stop()
          expect(serving.errors).toEqual([])
        })
      }
    }
  })
}

/** Options of {@link describeDatagramHandlerCompliance}. */
export interface DatagramHandlerComplianceOptions {
  /** The handler under test; `null` when the policies bring their own (`forked()`). */
  handler: Handler<DatagramRequest> | null
  /** Drives one client's exchange of datagrams and asserts on it. */
  exchange: (client: DatagramClient) => Promise<void>
  /** Transports to cover. Default: all of `udp4`, `udp6`, `unix-dgram`. */
  transports?: readonly DatagramTransportName[]
  /** Policies to cover, by name. Default: `sequential()` and `pooled({ concurrency: 4 })`. */
  policies?: Readonly<Record<string, Policy>>
  /** Clients that run `exchange` at once in each case. Default 3. */
  clients?: number
}

/**
 * The datagram counterpart of {@link describeHandlerCompliance}: serves
 * `handler` over UDP (IPv4, IPv6) and Unix datagram sockets with every
 * policy, runs `exchange` for several clients at once, and expects no error.
 *
 * @param title - The describe block's title.
 * @param options - Handler, exchange and matrix.
 * @example
 * ```ts
 * describeDatagramHandlerCompliance('echo', {
 *   handler: (request) => request.reply(request.data),
 *   exchange: async (client) => {
 *     await client.send('ping')
 *     expect((await client.receive()).toString()).toBe('ping')
 *   },
 * })
 * ```
 */
export function describeDatagramHandlerCompliance(title: string, options: DatagramHandlerComplianceOptions): void {
  const transports = options.transports ?? DATAGRAM_TRANSPORTS
  const policies = options.policies ?? DEFAULT_POLICIES()
  const clients = options.clients ?? 3
  describe(title, () => {
    for (const transport of transports) {
      for (const [policyName, policy] of Object.entries(policies)) {
        test(`serves ${clients} clients over ${transport} with ${policyName}`, async () => {
          const server = await listenDatagram(transport)
          const serving = serveInBackground(server, options.handler, { policy })
          await Promise.all(
            Array.from({ length: clients }, async () => {
              const client = await openDatagramClient(server.address)
              try {
                await options.exchange(client)
              } finally {
                client.close()
              }
            }),
          )
          await serving.stop()
          expect(serving.errors).toEqual([])
        })
      }
    }
  })
}
