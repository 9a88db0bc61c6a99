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

export { type SelfSignedCertificate, selfSignedCertificate } from './certificate.js'
export { registerCleanup } from './cleanup.js'
export { DatagramClient, type DatagramClientOptions, openDatagramClient } from './clients/datagram-client.js'
export { connect, LoopbackClient } from './clients/loopback-client.js'
export { describeDatagramSourceCompliance } from './compliance/datagram-source.js'
export {
  type DatagramHandlerComplianceOptions,
  describeDatagramHandlerCompliance,
  describeHandlerCompliance,
  type HandlerComplianceOptions,
} from './compliance/handler.js'
export { describeJobSourceCompliance, type JobSnapshot, type JobSourceFixture } from './compliance/job-source.js'
export { describePolicyCompliance } from './compliance/policy.js'
export { describeSourceCompliance } from './compliance/source.js'
export { DEFAULT_DEADLINE_MS, nextEvent, until } from './events.js'
export { ConcurrencyProbe, Gate } from './gate.js'
export { type HAProxyOptions, hasHAProxy, startHAProxy } from './haproxy.js'
export {
  type BackgroundServe,
  DATAGRAM_TRANSPORTS,
  type DatagramTransportName,
  type ListenFixtureOptions,
  listen,
  listenDatagram,
  STREAM_TRANSPORTS,
  type StreamTransportName,
  serveInBackground,
} from './listen.js'
export {
  type EnqueueOptions,
  type MemoryJob,
  MemoryJobSource,
  type MemoryJobSourceOptions,
  type MemoryJobState,
} from './memory-job-source.js'
export { hasNetworkNamespaces, type NamespacedProcess, spawnInNetworkNamespace } from './network-namespace.js'
export { hasPostgres, type PostgresServer, startPostgres } from './postgres.js'
export { openFileDescriptors, processAlive } from './resources.js'
export { tempSocketPath } from './temp-socket-path.js'
