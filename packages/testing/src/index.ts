/**
 * Test fixtures for socketserver servers and handlers: loopback servers that
 * clean up after the test, a buffering client, gates and probes to prove
 * ordering and concurrency without timing, and compliance suites that run a
 * handler or a server through every transport and policy.
 *
 * @example
 * ```ts
 * import { test, expect } from 'vitest'
 * import { listen, serveInBackground, connect } from '@socketserver/testing'
 *
 * test('echoes a line', async () => {
 *   const server = await listen('tcp4')
 *   serveInBackground(server, (request) => request.sink(request.source))
 *   const client = await connect(server.address)
 *   await client.send('hi\n')
 *   expect(await client.readLine()).toBe('hi\n')
 * })
 * ```
 *
 * @packageDocumentation
 */

export { registerCleanup } from './cleanup.js'
export { Gate, ConcurrencyProbe } from './gate.js'
export { nextEvent, until, DEFAULT_DEADLINE_MS } from './events.js'
export { tempSocketPath } from './temp-socket-path.js'
export {
  listen,
  listenDatagram,
  serveInBackground,
  STREAM_TRANSPORTS,
  DATAGRAM_TRANSPORTS,
  type DatagramTransportName,
  type BackgroundServe,
  type ListenFixtureOptions,
  type StreamTransportName,
} from './listen.js'
export { LoopbackClient, connect } from './clients/loopback-client.js'
export { DatagramClient, openDatagramClient, type DatagramClientOptions } from './clients/datagram-client.js'
export {
  describeHandlerCompliance,
  describeDatagramHandlerCompliance,
  type HandlerComplianceOptions,
  type DatagramHandlerComplianceOptions,
} from './compliance/handler.js'
export { describeSourceCompliance } from './compliance/source.js'
export { openFileDescriptors } from './resources.js'
