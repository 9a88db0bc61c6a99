/**
 * Compliance suites for users' handlers: one handler, every transport of
 * its kind, every policy.
 *
 * @module
 */

import {
  type DatagramRequest,
  type Handler,
  type Policy,
  pooled,
  type Server,
  type SocketAddress,
  type SocketRequest,
  type StreamRequest,
  sequential,
} from '@socketserver/core'
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
  describeMatrix(title, options, options.transports ?? STREAM_TRANSPORTS, listen, async (address) => {
    const client = await connect(address)
    return { client, close: () => client.destroy() }
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
  describeMatrix(title, options, options.transports ?? DATAGRAM_TRANSPORTS, listenDatagram, async (address) => {
    const client = await openDatagramClient(address)
    return { client, close: () => client.close() }
  })
}

/** What both suites share: transports x policies, several clients at once, no error. */
function describeMatrix<R extends SocketRequest, T extends string, C>(
  title: string,
  options: {
    handler: Handler<R> | null
    exchange: (client: C) => Promise<void>
    policies?: Readonly<Record<string, Policy>>
    clients?: number
  },
  transports: readonly T[],
  start: (transport: T) => Promise<Server<R>>,
  open: (address: SocketAddress) => Promise<{ client: C; close: () => void }>,
): void {
  const policies = options.policies ?? DEFAULT_POLICIES()
  const clients = options.clients ?? 3
  describe(title, () => {
    for (const transport of transports) {
      for (const [policyName, policy] of Object.entries(policies)) {
        test(`serves ${clients} clients over ${transport} with ${policyName}`, async () => {
          const server = await start(transport)
          const serving = serveInBackground(server, options.handler, { policy })
          await Promise.all(
            Array.from({ length: clients }, async () => {
              const { client, close } = await open(server.address)
              try {
                await options.exchange(client)
              } finally {
                close()
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
