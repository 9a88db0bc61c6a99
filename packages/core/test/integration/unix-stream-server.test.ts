import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import {
  BindError,
  MAX_SOCKET_PATH_BYTES,
  ServerClosedError,
  SocketPathInUseError,
  SocketPathNotSocketError,
  SocketPathTooLongError,
  UnixStreamServer,
} from '@socketserver/core'
import { connect, describeSourceCompliance, listen, registerCleanup, tempSocketPath } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

describeSourceCompliance('UnixStreamServer', () => listen('unix'))

/** Leaves a socket file behind with nobody listening, as a crashed server does. */
async function staleSocket(path: string): Promise<void> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(path, resolve))
  // libuv unlinks its path on close; move the file away meanwhile so it
  // survives, as it does when a server is killed.
  const aside = join(dirname(path), 'aside.sock')
  renameSync(path, aside)
  await new Promise<void>((resolve) => server.close(() => resolve()))
  renameSync(aside, path)
}

const CORE = new URL('../../dist/index.js', import.meta.url).href
// Required from the very module that requires it later, so that later
// require() finds it in the cache without reading a file.
const UNIX_DATAGRAM_SERVER = new URL('../../dist/servers/unix-datagram-server.js', import.meta.url).href

/**
 * Binds `path` with each Unix server class as a user who may not write its
 * directory, and returns what each threw (`name code`). Root may write
 * anywhere, so as root the child process loads our code (and the native
 * module the datagram server loads on first use), then becomes `nobody`:
 * loading first works wherever the checkout lives, even in a directory
 * `nobody` cannot read.
 */
function bindWithoutWriteAccess(path: string): string[] {
  const script = `
    import { createRequire } from 'node:module'
    import { UnixStreamServer, UnixDatagramServer } from ${JSON.stringify(CORE)}
    createRequire(${JSON.stringify(UNIX_DATAGRAM_SERVER)})('node-unix-socket')
    if (process.getuid() === 0) {
      process.setgid(65534)
      process.setuid(65534)
    }
    for (const bind of [() => UnixStreamServer.listen({ path: ${JSON.stringify(path)} }), () => UnixDatagramServer.bind({ path: ${JSON.stringify(path)} })]) {
      try { await (await bind()).close(); console.log('bound') } catch (error) { console.log(error.name + ' ' + error.code) }
    }`
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  return result.stdout.trim().split('\n')
}

describe('UnixStreamServer', () => {
  test('a path in a directory the server may not write fails with BindError EACCES, for stream and datagram servers', () => {
    const directory = mkdtempSync(join(tmpdir(), 'ss-readonly-'))
    registerCleanup(() => rmSync(directory, { recursive: true, force: true }))
    // Root-owned 0o755 keeps out `nobody`; 0o555 keeps out a non-root owner.
    chmodSync(directory, process.getuid?.() === 0 ? 0o755 : 0o555)
    expect(bindWithoutWriteAccess(join(directory, 'server.sock'))).toEqual(['BindError EACCES', 'BindError EACCES'])
    expect(readdirSync(directory)).toEqual([])
  })

  test('close() while bind() is in progress frees the path: bind() rejects with ServerClosedError and nothing listens', async () => {
    const path = tempSocketPath()
    const server = new UnixStreamServer({ path })
    const binding = server.bind().catch((error: unknown) => error)
    await server.close()
    expect(await binding).toBeInstanceOf(ServerClosedError)
    expect(server.fileno()).toBe(-1)
    expect(existsSync(path)).toBe(false)
    const refused = await new Promise<string | undefined>((resolve) => {
      const client = net.connect(path, () => {
        client.destroy()
        resolve(undefined)
      })
      client.on('error', (error: NodeJS.ErrnoException) => resolve(error.code))
    })
    expect(refused).toBe('ENOENT')
  })

  test("close() succeeds when the socket's directory was replaced by a file meanwhile (ENOTDIR on cleanup)", async () => {
    const directory = mkdtempSync(join(tmpdir(), 'ss-gone-'))
    registerCleanup(() => rmSync(directory, { recursive: true, force: true }))
    const run = join(directory, 'run')
    mkdirSync(run)
    const server = await UnixStreamServer.listen({ path: join(run, 'server.sock') })
    rmSync(run, { recursive: true })
    writeFileSync(run, 'not a directory')
    await expect(server.close()).resolves.toBeUndefined()
  })

  test('two servers starting at once on a stale socket file: one binds, the other fails with SocketPathInUseError', async () => {
    for (let trial = 0; trial < 10; trial++) {
      const path = tempSocketPath()
      await staleSocket(path)
      const results = await Promise.allSettled([UnixStreamServer.listen({ path }), UnixStreamServer.listen({ path })])
      const bound = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
      const refused = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []))
      expect(bound).toHaveLength(1)
      expect(refused[0]).toBeInstanceOf(SocketPathInUseError)
      // The one that bound is the one clients reach.
      const client = await connect((bound[0] as UnixStreamServer).address)
      client.destroy()
      await (bound[0] as UnixStreamServer).close()
    }
  })

  test('replaces a stale socket file nobody listens on', async () => {
    const path = tempSocketPath()
    await staleSocket(path)
    expect(lstatSync(path).isSocket()).toBe(true)
    await using server = await UnixStreamServer.listen({ path })
    const client = await connect(server.address)
    client.destroy()
  })

  test.each([
    ['a regular file', (path: string) => writeFileSync(path, 'precious'), 'regular file'],
    ['a directory', (path: string) => mkdirSync(path), 'directory'],
    ['a symbolic link', (path: string) => symlinkSync('/nonexistent-target', path), 'symbolic link'],
  ])('refuses %s at the path with SocketPathNotSocketError and leaves it untouched', async (_, make, found) => {
    const path = tempSocketPath()
    make(path)
    const failure = UnixStreamServer.listen({ path })
    await expect(failure).rejects.toBeInstanceOf(SocketPathNotSocketError)
    await expect(failure).rejects.toMatchObject({ found, code: 'SS_ERR_SOCKET_PATH_NOT_SOCKET', address: path })
    expect(existsSync(path) || lstatSync(path).isSymbolicLink()).toBe(true)
    if (found === 'regular file') expect(readFileSync(path, 'utf8')).toBe('precious')
  })

  test("refuses a live server's path with SocketPathInUseError, and that server keeps working", async () => {
    const live = await listen('unix')
    const path = (live.address as { path: string }).path
    const failure = UnixStreamServer.listen({ path })
    await expect(failure).rejects.toBeInstanceOf(SocketPathInUseError)
    await expect(failure).rejects.toMatchObject({ code: 'EADDRINUSE' })
    const client = await connect(live.address)
    const { value: request } = await live[Symbol.asyncIterator]().next()
    expect(request?.clientAddress).toEqual({ transport: 'unix', path: null })
    client.destroy()
    await request?.close()
  })

  test('removes the socket file it created on close, and sets the requested mode', async () => {
    const path = tempSocketPath()
    const server = await UnixStreamServer.listen({ path, mode: 0o600 })
    expect(lstatSync(path).mode & 0o777).toBe(0o600)
    await server.close()
    expect(existsSync(path)).toBe(false)
  })

  test('leaves alone a file that replaced its socket while it ran', async () => {
    const path = tempSocketPath()
    const server = await UnixStreamServer.listen({ path })
    rmSync(path)
    writeFileSync(path, 'someone else')
    await server.close()
    expect(readFileSync(path, 'utf8')).toBe('someone else')
  })

  test('a path longer than sun_path allows rejects with SocketPathTooLongError naming the limit', async () => {
    const path = join(dirname(tempSocketPath()), 'x'.repeat(MAX_SOCKET_PATH_BYTES))
    const failure = UnixStreamServer.listen({ path })
    await expect(failure).rejects.toBeInstanceOf(SocketPathTooLongError)
    await expect(failure).rejects.toMatchObject({ limit: MAX_SOCKET_PATH_BYTES })
  })

  test('a path in a directory that does not exist rejects with BindError, code ENOENT', async () => {
    const path = join(dirname(tempSocketPath()), 'missing', 's.sock')
    await expect(UnixStreamServer.listen({ path })).rejects.toMatchObject({ code: 'ENOENT' })
    await expect(UnixStreamServer.listen({ path })).rejects.toBeInstanceOf(BindError)
  })

  test.runIf(process.platform === 'linux')('listens on a Linux abstract name', async () => {
    const path = `\0socketserver-test-${process.pid}-${Date.now()}`
    const server = await UnixStreamServer.listen({ path })
    registerCleanup(() => server.close())
    const client = await connect(server.address)
    const { value: request } = await server[Symbol.asyncIterator]().next()
    expect(request).toBeDefined()
    client.destroy()
    await request?.close()
  })

  test('two servers racing for one path: exactly one wins, the other gets SocketPathInUseError', async () => {
    const path = tempSocketPath()
    const results = await Promise.allSettled([UnixStreamServer.listen({ path }), UnixStreamServer.listen({ path })])
    const winners = results.filter((result) => result.status === 'fulfilled')
    const losers = results.filter((result) => result.status === 'rejected')
    expect(winners).toHaveLength(1)
    expect(losers).toHaveLength(1)
    expect((losers[0] as PromiseRejectedResult).reason).toBeInstanceOf(SocketPathInUseError)
    const winner = (winners[0] as PromiseFulfilledResult<UnixStreamServer>).value
    registerCleanup(() => winner.close())
    const client = await connect(winner.address)
    client.destroy()
  })
})
