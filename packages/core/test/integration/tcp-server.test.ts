import { spawn } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { BindError, InvalidOptionError, ServerClosedError, ServerNotReadyError, TCPServer } from '@socketserver/core'
import { connect, describeSourceCompliance, listen, openFileDescriptors, registerCleanup } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

describeSourceCompliance('TCPServer over IPv4', () => listen('tcp4'))
describeSourceCompliance('TCPServer over IPv6', () => listen('tcp6'))

async function occupiedPort(): Promise<number> {
  const blocker = net.createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  registerCleanup(() => new Promise((resolve) => blocker.close(resolve)))
  return (blocker.address() as net.AddressInfo).port
}

describe('TCPServer', () => {
  test('close() while bind() is in progress closes the listener: bind() rejects with ServerClosedError and no descriptor stays open', async () => {
    const before = openFileDescriptors()
    const server = new TCPServer({ host: '127.0.0.1', port: 0 })
    const binding = server.bind().catch((error: unknown) => error)
    await server.close()
    expect(await binding).toBeInstanceOf(ServerClosedError)
    expect(server.fileno()).toBe(-1)
    expect(openFileDescriptors()).toBe(before)
  })

  test('listen() binds IPv4 and IPv6 loopback and reports normalised addresses', async () => {
    const v4 = await listen('tcp4')
    const v6 = await listen('tcp6')
    expect(v4.address).toMatchObject({ transport: 'tcp', host: '127.0.0.1', family: 'IPv4' })
    expect(v6.address).toMatchObject({ transport: 'tcp', host: '::1', family: 'IPv6' })
  })

  test('host "::" is dual-stack: it accepts IPv4 clients, reported as IPv4 addresses', async () => {
    await using server = await TCPServer.listen({ host: '::', port: 0 })
    const port = (server.address as { port: number }).port
    const client = await connect({ transport: 'tcp', host: '127.0.0.1', port, family: 'IPv4' })
    const { value: request } = await server[Symbol.asyncIterator]().next()
    expect(request?.clientAddress).toMatchObject({ host: '127.0.0.1', family: 'IPv4' })
    client.destroy()
    await request?.close()
  })

  test("the client's address is known after the client reset the connection and the socket closed", async () => {
    const server = await listen('tcp4')
    const client = await connect(server.address)
    const clientPort = client.socket.localPort
    const { value: request } = await server[Symbol.asyncIterator]().next()
    if (request === undefined) throw new Error('Cannot take a request: the server ended')
    client.reset()
    // The read fails with the reset; by then Node has closed the socket's handle.
    await expect(request.source.next()).rejects.toMatchObject({ code: 'ECONNRESET' })
    expect(request.socket.destroyed).toBe(true)
    expect(request.clientAddress).toEqual({ transport: 'tcp', host: '127.0.0.1', port: clientPort, family: 'IPv4' })
    await request.close()
  })

  test('the deferred form binds with bind() and serves only after activate()', async () => {
    const server = new TCPServer({ host: '127.0.0.1', port: 0 })
    registerCleanup(() => server.close())
    expect(server.fileno()).toBe(-1)
    expect(() => server.address).toThrow(ServerClosedError)
    // Not yet rather than no more: its own class and code, still a ServerClosedError.
    expect(() => server.address).toThrow(ServerNotReadyError)
    expect(() => server.activate()).toThrow(expect.objectContaining({ code: 'SS_ERR_SERVER_NOT_READY' }))
    await server.bind()
    expect(server.fileno()).toBeGreaterThan(2)
    expect(() => server[Symbol.asyncIterator]()).toThrow(ServerClosedError)
    expect(() => server[Symbol.asyncIterator]()).toThrow(/call activate\(\) first/)
    const client = await connect(server.address)
    server.activate()
    const { value: request } = await server[Symbol.asyncIterator]().next()
    expect(request?.kind).toBe('stream')
    client.destroy()
    await request?.close()
    await expect(server.bind()).rejects.toThrow(ServerClosedError)
  })

  test('an address in use rejects with BindError, code EADDRINUSE, naming the address', async () => {
    const port = await occupiedPort()
    const failure = TCPServer.listen({ host: '127.0.0.1', port })
    await expect(failure).rejects.toBeInstanceOf(BindError)
    await expect(failure).rejects.toMatchObject({ code: 'EADDRINUSE', address: `127.0.0.1:${port}` })
    await expect(failure).rejects.toThrow(`Cannot bind "127.0.0.1:${port}": the address is already in use`)
  })

  test('a host that is not on this machine rejects with its system code', async () => {
    await expect(TCPServer.listen({ host: '192.0.2.1', port: 0 })).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' })
    await expect(TCPServer.listen({ host: 'no-such-host.invalid', port: 0 })).rejects.toBeInstanceOf(BindError)
  })

  test('1,000 failing binds in a row leak no file descriptor', async () => {
    const port = await occupiedPort()
    const before = openFileDescriptors()
    for (let i = 0; i < 1_000; i++) {
      await expect(TCPServer.listen({ host: '127.0.0.1', port })).rejects.toBeInstanceOf(BindError)
    }
    expect(openFileDescriptors()).toBe(before)
  })

  test('close() frees the port at once, so a new server can bind it', async () => {
    const server = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
    const port = (server.address as { port: number }).port
    await server.close()
    await using again = await TCPServer.listen({ host: '127.0.0.1', port })
    expect(again.address).toMatchObject({ port })
  })

  test('reusePort on a port taken without it fails with BindError EADDRINUSE (a system code, on every Node version)', async () => {
    await using taken = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
    const port = (taken.address as { port: number }).port
    await expect(TCPServer.listen({ host: '127.0.0.1', port, reusePort: true })).rejects.toMatchObject({ code: 'EADDRINUSE' })
  })

  test('reusePort lets two servers bind the same port', async () => {
    await using first = await TCPServer.listen({ host: '127.0.0.1', port: 0, reusePort: true })
    const port = (first.address as { port: number }).port
    await using second = await TCPServer.listen({ host: '127.0.0.1', port, reusePort: true })
    expect(second.address).toMatchObject({ port })
  })

  test('rejects bad options with InvalidOptionError', () => {
    expect(() => new TCPServer({ port: 70_000 })).toThrow(InvalidOptionError)
    expect(() => new TCPServer({ port: -1 })).toThrow(InvalidOptionError)
    expect(() => new TCPServer({ backlog: 0 })).toThrow(InvalidOptionError)
    expect(() => new TCPServer({ host: '' })).toThrow(InvalidOptionError)
  })

  test('an aborted signal rejects listen(); aborting later closes the server', async () => {
    await expect(TCPServer.listen({ signal: AbortSignal.abort(new Error('stop')) })).rejects.toThrow('stop')
    const controller = new AbortController()
    const server = await TCPServer.listen({ signal: controller.signal })
    const pending = server[Symbol.asyncIterator]().next()
    controller.abort()
    await expect(pending).resolves.toEqual({ done: true, value: undefined })
    expect(server.closed).toBe(true)
  })
})

/**
 * TCP_NODELAY as the kernel has it for `socket`, asked by a Python child that
 * shares the socket's descriptor (Node cannot read socket options).
 */
async function kernelNoDelay(socket: net.Socket): Promise<number> {
  const script = 'import socket; s = socket.socket(fileno=3); print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)); s.detach()'
  const child = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit', socket] })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const [code] = await once(child, 'exit', { signal: AbortSignal.timeout(10_000) })
  expect(code).toBe(0)
  return Number(output.trim())
}

describe('TCPServer noDelay (#15)', () => {
  test.each([
    [{}, 1],
    [{ noDelay: true }, 1],
    [{ noDelay: false }, 0],
  ])('with %j, accepted connections have TCP_NODELAY %i', async (options, expected) => {
    const server = await TCPServer.listen({ host: '127.0.0.1', port: 0, ...options })
    registerCleanup(() => server.close())
    const client = await connect(server.address)
    const iterator = server[Symbol.asyncIterator]()
    const { value: request } = await iterator.next()
    if (request === undefined) throw new Error('no connection')
    expect(await kernelNoDelay(request.socket)).toBe(expected)
    client.destroy()
    await request.close()
  })

  test('refuses a noDelay that is not a boolean', () => {
    expect(() => new TCPServer({ noDelay: 'yes' as unknown as boolean })).toThrow(InvalidOptionError)
  })
})
