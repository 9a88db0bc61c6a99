import diagnosticsChannel from 'node:diagnostics_channel'
import { OverflowError, type StreamRequest, sequential } from '@socketserver/core'
import { ConcurrencyProbe, connect, Gate, listen, registerCleanup, serveInBackground } from '@socketserver/testing'
import { describe, expect, test, vi } from 'vitest'

const CHANNELS = [
  'socketserver:server:listen',
  'socketserver:server:close',
  'socketserver:server:drop',
  'socketserver:request:start',
  'socketserver:request:end',
  'socketserver:request:rejected',
  'socketserver:request:error',
] as const

describe('diagnostics channels', () => {
  test('each channel fires with its documented payload', async () => {
    const seen = new Map<string, Array<Record<string, unknown>>>()
    for (const name of CHANNELS) {
      const onMessage = (message: unknown): void => {
        seen.set(name, [...(seen.get(name) ?? []), message as Record<string, unknown>])
      }
      diagnosticsChannel.subscribe(name, onMessage)
      registerCleanup(() => diagnosticsChannel.unsubscribe(name, onMessage))
    }
    const server = await listen('tcp4', { maxPendingConnections: 0 })
    const gate = new Gate()
    const probe = new ConcurrencyProbe()
    let calls = 0
    const serving = serveInBackground(
      server,
      async (request: StreamRequest) => {
        probe.enter()
        if (++calls === 1) await gate.wait()
        if (calls === 2) throw new Error('counted')
        request.socket.write('ok\n')
      },
      { policy: sequential(), verifyRequest: (request) => request.clientAddress.transport === 'tcp' && calls < 2 },
    )
    const first = await connect(server.address)
    await probe.waitUntil((current) => current === 1)
    const refused = await connect(server.address) // nobody pulls and nothing may wait: dropped
    await refused.waitForEnd()
    gate.open()
    expect(await first.readLine()).toBe('ok\n')
    const failing = await connect(server.address)
    await failing.waitForEnd()
    const rejected = await connect(server.address) // two served by now: verifyRequest says no
    await rejected.waitForEnd()
    await serving.stop()

    const mine = (name: string) =>
      (seen.get(name) ?? []).filter((m) => m.server === server || (m.request as StreamRequest | undefined)?.server === server)
    expect(mine('socketserver:server:listen')).toHaveLength(1)
    expect(mine('socketserver:server:close')[0]).toMatchObject({ dropped: 0 })
    expect(mine('socketserver:server:drop')[0]?.error).toBeInstanceOf(OverflowError)
    expect(mine('socketserver:request:start')).toHaveLength(2)
    expect(mine('socketserver:request:end')).toHaveLength(2)
    expect(mine('socketserver:request:rejected')).toHaveLength(1)
    await vi.waitFor(() => expect(mine('socketserver:request:error').length).toBeGreaterThanOrEqual(1))
  })
})
