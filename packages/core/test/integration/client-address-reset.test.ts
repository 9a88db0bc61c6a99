import { spawnSync } from 'node:child_process'
import net from 'node:net'
import { HandlerError, type InetAddress, type StreamRequest, type UnixAddress } from '@socketserver/core'
import { connect, listen, serveInBackground, until } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

/** Enough clients at once that, racing the server, some reset before it accepts them. */
const CLIENTS = 20

/** What an IPv4 client's address is when the server could not learn it. */
const UNKNOWN_CLIENT: InetAddress = { transport: 'tcp', host: '', port: 0, family: 'IPv4' }
const UNKNOWN_CLIENT_TEXT = 'an unknown client (it reset the connection before its address was read)'

/** Fails every request, so each one reaches handleError as a HandlerError naming its client. */
function refuse(): never {
  throw new Error('refused')
}

/** Connects, sends a line and resets at once (SO_LINGER 0); resolves with the client's port once the socket closed. */
function connectSendReset(address: InetAddress): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.host, port: address.port }, () => {
      const port = socket.localPort
      socket.write('hello\n')
      socket.resetAndDestroy()
      socket.once('close', () => (port === undefined ? reject(new Error('Cannot read the client port')) : resolve(port)))
    })
    socket.once('error', reject)
  })
}

/**
 * A child process that does what {@link connectSendReset} does for `count`
 * clients and prints their ports as JSON. Run with spawnSync, it holds this
 * process (and so the server's accept) still until every client has reset.
 */
const RESET_IN_BACKLOG = `
const net = require('node:net')
const [host, port, count] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])]
const ports = []
let open = count
for (let i = 0; i < count; i++) {
  const socket = net.connect({ host, port }, () => {
    ports.push(socket.localPort)
    socket.write('hello\\n')
    socket.resetAndDestroy()
  })
  socket.on('error', (error) => { console.error(error.message); process.exitCode = 1 })
  socket.on('close', () => { if (--open === 0) console.log(JSON.stringify(ports)) })
}
`

/** The errors `handleError` received, as HandlerErrors, once there are `count`. */
async function handlerErrors(errors: unknown[], count: number): Promise<HandlerError[]> {
  await until(() => errors.length >= count, 10_000, `${count} errors in handleError`)
  expect(errors).toHaveLength(count)
  for (const error of errors) expect(error).toBeInstanceOf(HandlerError)
  return errors as HandlerError[]
}

describe('clientAddress of a client that resets (#16)', () => {
  test('serve() names a TCP client that sends and resets at once by its own address, or as an unknown client, never as ":0"', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(server, refuse)
    const ports = await Promise.all(Array.from({ length: CLIENTS }, () => connectSendReset(server.address as InetAddress)))
    const named = new Set<number>()
    for (const error of await handlerErrors(serving.errors, CLIENTS)) {
      expect(error.message).not.toMatch(/ :0\b/)
      const address = error.clientAddress as InetAddress
      if (address.host === '') {
        expect(address).toEqual(UNKNOWN_CLIENT)
        expect(error.message).toBe(`Cannot handle the request from ${UNKNOWN_CLIENT_TEXT}: Error: refused`)
      } else {
        expect(address).toMatchObject({ transport: 'tcp', host: '127.0.0.1', family: 'IPv4' })
        expect(ports).toContain(address.port)
        expect(named.has(address.port)).toBe(false)
        named.add(address.port)
        expect(error.message).toBe(`Cannot handle the request from 127.0.0.1:${address.port}: Error: refused`)
      }
    }
  })

  test.each([
    ['tcp4', 'IPv4'],
    ['tcp6', 'IPv6'],
  ] as const)(
    'serve() reports a %s client that reset before the server accepted it as an unknown client, saying why',
    async (transport, family) => {
      const server = await listen(transport)
      const serving = serveInBackground(server, refuse)
      const { host, port } = server.address as InetAddress
      // The kernel completes the handshakes while this process is held in
      // spawnSync, and the resets reach the connections in the backlog: by the
      // time the server accepts them, the system no longer tells their peers.
      const child = spawnSync(process.execPath, ['-e', RESET_IN_BACKLOG, host, String(port), String(CLIENTS)], {
        encoding: 'utf8',
        timeout: 10_000,
      })
      expect(child.stderr).toBe('')
      expect(child.status).toBe(0)
      expect(JSON.parse(child.stdout)).toHaveLength(CLIENTS)
      for (const error of await handlerErrors(serving.errors, CLIENTS)) {
        expect(error.clientAddress).toEqual({ ...UNKNOWN_CLIENT, family })
        expect(error.message).toBe(`Cannot handle the request from ${UNKNOWN_CLIENT_TEXT}: Error: refused`)
      }
    },
  )

  test('serve() names a TCP client that resets after the server accepted it, though nothing asked for its address before the reset', async () => {
    const server = await listen('tcp4')
    let started = 0
    const serving = serveInBackground(server, async (request: StreamRequest) => {
      started++
      // Reads until the reset fails the read, then fails the request.
      await (async () => {
        for await (const _ of request.source);
      })().catch(() => {})
      throw new Error('refused')
    })
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(server.address)))
    await Promise.all(clients.map((client) => client.send('hello\n')))
    await until(() => started === CLIENTS, 10_000, `${CLIENTS} handlers to start`)
    const ports = clients.map((client) => client.socket.localPort)
    for (const client of clients) client.reset()
    const errors = await handlerErrors(serving.errors, CLIENTS)
    const named = errors.map((error) => error.clientAddress as InetAddress)
    for (const address of named) expect(address).toMatchObject({ transport: 'tcp', host: '127.0.0.1', family: 'IPv4' })
    expect(named.map((address) => address.port).sort()).toEqual(ports.sort())
    for (const error of errors) {
      expect(error.message).toBe(`Cannot handle the request from 127.0.0.1:${(error.clientAddress as InetAddress).port}: Error: refused`)
    }
  })

  test('serve() names a Unix stream client that sends and closes at once as unnamed, as any other (Unix sockets have no reset)', async () => {
    const server = await listen('unix')
    const serving = serveInBackground(server, refuse)
    const path = (server.address as UnixAddress).path as string
    await Promise.all(
      Array.from(
        { length: CLIENTS },
        () =>
          new Promise<void>((resolve, reject) => {
            const socket = net.connect({ path }, () => {
              socket.write('hello\n')
              socket.destroy()
            })
            socket.once('error', reject)
            socket.once('close', () => resolve())
          }),
      ),
    )
    for (const error of await handlerErrors(serving.errors, CLIENTS)) {
      expect(error.clientAddress).toEqual({ transport: 'unix', path: null })
      expect(error.message).toBe('Cannot handle the request from (unnamed): Error: refused')
    }
  })
})
