// The testing kit's own edge cases: waits that were already over, closing
// twice, a reset over a Unix socket, and conditions that never answer.
import {
  ConcurrencyProbe,
  connect,
  Gate,
  listen,
  listenDatagram,
  openDatagramClient,
  selfSignedCertificate,
  serveInBackground,
  until,
} from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

describe('testing kit', () => {
  test('Gate.wait() and ConcurrencyProbe.waitUntil() with a signal that already aborted reject with its reason', async () => {
    const signal = AbortSignal.abort(new Error('deadline'))
    await expect(new Gate().wait(signal)).rejects.toThrow('deadline')
    await expect(new ConcurrencyProbe().waitUntil((current) => current === 1, signal)).rejects.toThrow('deadline')
  })

  test('until() keeps its deadline when the condition itself never answers', async () => {
    await expect(until(() => new Promise<boolean>(() => {}), 50, 'an answer')).rejects.toThrow('Cannot wait for an answer')
  })

  test('two readLine() calls at once get the two lines in order', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(server, (request) => (request.kind === 'stream' ? request.sink(request.source) : undefined))
    const client = await connect(server.address)
    const [first, second] = [client.readLine(), client.readLine()].map((read) => read.catch((error: Error) => error.message))
    // The first line alone wakes both: the second read must wait for its own.
    await client.send('one\n')
    expect(await first).toBe('one\n')
    await client.send('two\n')
    expect(await second).toBe('two\n')
    client.end()
    await client.waitForEnd()
    await serving.stop()
  })

  test('a datagram client can be closed twice', async () => {
    const server = await listenDatagram('udp4')
    const client = await openDatagramClient(server.address)
    client.close()
    expect(() => client.close()).not.toThrow()
    await server.close()
  })

  test('reset() over a Unix stream socket closes it (a reset exists only for TCP)', async () => {
    const server = await listen('unix')
    const serving = serveInBackground(server, (request) => (request.kind === 'stream' ? request.sink(request.source) : undefined))
    const client = await connect(server.address)
    expect(() => client.reset()).not.toThrow()
    await client.closed
    await serving.stop()
  })
})

describe('selfSignedCertificate()', () => {
  test('makes a key and a certificate for the name asked, as bytes and files', async () => {
    const { X509Certificate, createPrivateKey } = await import('node:crypto')
    const { readFileSync, existsSync } = await import('node:fs')
    const made = selfSignedCertificate('tests.example')
    expect(new X509Certificate(made.cert).subject).toBe('CN=tests.example')
    expect(createPrivateKey(made.key).asymmetricKeyType).toBe('rsa')
    expect(readFileSync(made.certPath)).toEqual(made.cert)
    expect(existsSync(made.keyPath)).toBe(true)
  })
})
