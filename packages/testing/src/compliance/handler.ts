/**
 * A compliance suite for users' handlers: one handler, every stream
 * transport, every policy.
 *
 * @module
 */

import { type Handler, type Policy, type StreamRequest, pooled, sequential } from '@socketserver/core'
import { describe, expect, test } from 'vitest'
import { type LoopbackClient, connect } from '../clients/loopback-client.js'
import { STREAM_TRANSPORTS, type StreamTransportName, listen, serveInBackground } from '../listen.js'

/** Options of {@link describeHandlerCompliance}. */
export interface HandlerComplianceOptions {
  /** The handler under test. */
  handler: Handler<StreamRequest>
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
  const policies = options.policies ?? { sequential: sequential(), pooled: pooled({ concurrency: 4 }) }
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
