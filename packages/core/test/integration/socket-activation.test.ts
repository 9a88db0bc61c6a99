import { closeSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  listenFds,
  notifyServiceManager,
  SocketActivationError,
  TCPServer,
  UDPServer,
  UnixDatagramServer,
  UnixStreamServer,
} from '@socketserver/core'
import { registerCleanup, spawnInNetworkNamespace, tempSocketPath } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

const fixture = fileURLToPath(new URL('../fixtures/activated-echo.mjs', import.meta.url))

/** A Python client, run in the activator's namespace: one exchange over each address given, printed one per line. */
const CLIENT = `
import socket, sys
for spec in sys.argv[1:]:
    kind, _, where = spec.partition('=')
    if kind in ('tcp', 'tcp6'):
        host, _, port = where.rpartition(':')
        family = socket.AF_INET6 if kind == 'tcp6' else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM); s.settimeout(5); s.connect((host.strip('[]'), int(port)))
        s.sendall(b'ping ' + kind.encode()); s.shutdown(socket.SHUT_WR)
        data = b''
        while True:
            chunk = s.recv(4096)
            if not chunk: break
            data += chunk
    elif kind in ('udp', 'udp6'):
        host, _, port = where.rpartition(':')
        family = socket.AF_INET6 if kind == 'udp6' else socket.AF_INET
        s = socket.socket(family, socket.SOCK_DGRAM); s.settimeout(5)
        s.sendto(b'ping ' + kind.encode(), (host.strip('[]'), int(port)))
        data = s.recv(4096)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(5); s.connect(where)
        s.sendall(b'ping unix'); s.shutdown(socket.SHUT_WR)
        data = b''
        while True:
            chunk = s.recv(4096)
            if not chunk: break
            data += chunk
    print(data.decode())
`

describe('socket activation with systemd-socket-activate as the parent (in a network namespace of its own: it takes no port 0)', () => {
  test('stream sockets (TCP over IPv4 and IPv6, Unix): each served as what it is, named by --fdname, the variables unset after', async () => {
    const path = tempSocketPath()
    const activator = spawnInNetworkNamespace('systemd-socket-activate', [
      '-l',
      '127.0.0.1:7007',
      '-l',
      path,
      '-l',
      '[::1]:7008',
      '--fdname=web:local:web6',
      process.execPath,
      fixture,
    ])
    await activator.waitFor(`Listening on ${path}`)
    // It starts the server at the first connection: this one is served once it has.
    const first = await activator.run('python3', ['-c', CLIENT, `unix=${path}`])
    expect(first.stdout).toBe('ping unix\n')
    await activator.waitFor('READY')
    expect(activator.output()).toContain('serving web tcp 127.0.0.1:7007')
    expect(activator.output()).toContain(`serving local unix-stream ${path}`)
    expect(activator.output()).toContain('serving web6 tcp [::1]:7008')
    expect(activator.output()).toContain('LISTEN_FDS after: unset')
    const exchanges = await activator.run('python3', ['-c', CLIENT, 'tcp=127.0.0.1:7007', 'tcp6=[::1]:7008', `unix=${path}`])
    expect(exchanges.stderr).toBe('')
    expect(exchanges.stdout).toBe('ping tcp\nping tcp6\nping unix\n')
    activator.child.kill('SIGTERM')
    await activator.exit
  })

  test('--datagram: UDP over IPv4 and IPv6 served (Node must be told the family), a Unix datagram socket refused with a clear error', async () => {
    const path = tempSocketPath()
    const activator = spawnInNetworkNamespace('systemd-socket-activate', [
      '--datagram',
      '-l',
      '127.0.0.1:7009',
      '-l',
      '[::1]:7010',
      '-l',
      path,
      '--fdname=dns:dns6:log',
      process.execPath,
      fixture,
    ])
    await activator.waitFor(`Listening on ${path}`)
    // The first datagram starts the server; whether that one is answered is
    // the activator's business (it stays queued on the socket).
    await activator.run('python3', [
      '-c',
      'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", ("127.0.0.1", 7009))',
    ])
    await activator.waitFor('READY')
    expect(activator.output()).toContain('serving dns udp 127.0.0.1:7009')
    expect(activator.output()).toContain('serving dns6 udp [::1]:7010')
    expect(activator.output()).toMatch(/refused log SocketActivationError: Cannot make a UnixDatagramServer from fd 5: Node cannot adopt/)
    const exchanges = await activator.run('python3', ['-c', CLIENT, 'udp=127.0.0.1:7009', 'udp6=[::1]:7010'])
    expect(exchanges.stderr).toBe('')
    expect(exchanges.stdout).toBe('ping udp\nping udp6\n')
    activator.child.kill('SIGTERM')
    await activator.exit
  })
})

describe('listenFds()', () => {
  test('none without the variables, or when LISTEN_PID is another process; they are unset after use unless asked', () => {
    expect(listenFds({ environment: {} })).toEqual([])
    const theirs = { LISTEN_PID: String(process.pid + 1), LISTEN_FDS: '1' }
    expect(listenFds({ environment: theirs })).toEqual([])
    expect(theirs).toEqual({})
    const kept = { LISTEN_PID: String(process.pid), LISTEN_FDS: '0', LISTEN_FDNAMES: '' }
    expect(listenFds({ environment: kept, unsetEnvironment: false })).toEqual([])
    expect(kept.LISTEN_FDS).toBe('0')
  })

  test('a malformed LISTEN_FDS, names that do not match the count, a descriptor that is not open: SocketActivationError', () => {
    const mine = String(process.pid)
    expect(() => listenFds({ environment: { LISTEN_PID: mine, LISTEN_FDS: 'two' } })).toThrow(SocketActivationError)
    expect(() => listenFds({ environment: { LISTEN_PID: mine, LISTEN_FDS: '1', LISTEN_FDNAMES: 'a:b' } })).toThrow(
      /names 2 sockets, LISTEN_FDS says 1/,
    )
    expect(() => listenFds({ environment: { LISTEN_PID: mine, LISTEN_FDS: '4000' } })).toThrow(/fd \d+ is not open/)
  })
})

describe('fromFd()', () => {
  test('a descriptor of another kind, one that is not a socket, one not open, and not a descriptor at all are refused, naming what they are', async () => {
    const udp = await UDPServer.bind({ host: '127.0.0.1', port: 0 })
    registerCleanup(() => udp.close())
    const tcp = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
    registerCleanup(() => tcp.close())
    await expect(TCPServer.fromFd(udp.fileno())).rejects.toThrow(
      /Cannot make a TCPServer from fd \d+: it is a UDP socket \(UDPServer.fromFd\(\)\)/,
    )
    await expect(UDPServer.fromFd(tcp.fileno())).rejects.toThrow(/it is a TCP socket/)
    await expect(UnixStreamServer.fromFd(tcp.fileno())).rejects.toThrow(SocketActivationError)
    const file = openSync(fileURLToPath(import.meta.url), 'r')
    registerCleanup(() => closeSync(file))
    await expect(TCPServer.fromFd(file)).rejects.toThrow(`Cannot make a TCPServer from fd ${file}: it is not a socket`)
    await expect(TCPServer.fromFd(4000)).rejects.toThrow('Cannot make a TCPServer from fd 4000: it is not open')
    await expect(TCPServer.fromFd(-1)).rejects.toThrow(/expected a file descriptor/)
    // (A Unix datagram socket's refusal: in the activation test above.)
  })
})

describe('notifyServiceManager()', () => {
  test('sends the state to the path $NOTIFY_SOCKET; false without one; a socket that is not there, or an abstract name, is an error', async () => {
    const path = tempSocketPath()
    const manager = await UnixDatagramServer.bind({ path })
    registerCleanup(() => manager.close())
    const received = manager[Symbol.asyncIterator]()
    expect(await notifyServiceManager('READY=1', { NOTIFY_SOCKET: path })).toBe(true)
    expect(Buffer.from(((await received.next()).value as { data: Uint8Array }).data).toString()).toBe('READY=1')
    await expect(notifyServiceManager('READY=1', { NOTIFY_SOCKET: '@abstract' })).rejects.toThrow(
      /an abstract socket name cannot be reached/,
    )
    expect(await notifyServiceManager('READY=1', {})).toBe(false)
    await expect(notifyServiceManager('READY=1', { NOTIFY_SOCKET: join(path, 'nothing-here') })).rejects.toThrow(SocketActivationError)
  })
})
