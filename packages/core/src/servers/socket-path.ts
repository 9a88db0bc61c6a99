/**
 * Unix socket paths: what may be replaced, what must be refused, and removing
 * only the file we created.
 *
 * Python never removes its socket file, so a restarted server fails with
 * EADDRINUSE until someone deletes it by hand. We replace a stale socket file
 * (one nobody listens on), refuse a live one, and never touch anything that
 * is not a socket.
 *
 * @module
 */

import { lstatSync, unlinkSync } from 'node:fs'
import { lstat, rename, stat } from 'node:fs/promises'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { BindError, SocketPathInUseError, SocketPathNotSocketError, SocketPathTooLongError } from '../errors.js'

/**
 * The most bytes a Unix socket path may have: `sun_path` is 108 bytes on
 * Linux, one of them the terminating NUL (104 on the BSDs and macOS).
 */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103

/** Whether `path` is a Linux abstract socket name (`"\0name"`), which has no file. */
export function isAbstractPath(path: string): boolean {
  return path.startsWith('\0')
}

/**
 * Makes `path` ready to bind: nothing there, or a stale socket file that we
 * remove.
 *
 * @throws SocketPathTooLongError, SocketPathNotSocketError, SocketPathInUseError.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) throw new SocketPathTooLongError(path, MAX_SOCKET_PATH_BYTES)
  if (isAbstractPath(path)) return
  const stats = await lstat(path, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw error
  })
  if (stats === undefined) {
    // Linux reports a missing directory as EACCES at listen(); say what it is.
    const directory = dirname(path)
    const exists = await stat(directory).then(
      () => true,
      () => false,
    )
    if (!exists)
      throw new BindError(path, `Cannot bind ${JSON.stringify(path)}: the directory ${JSON.stringify(directory)} does not exist`, 'ENOENT')
    return
  }
  if (!stats.isSocket()) throw new SocketPathNotSocketError(path, kindOf(stats))
  if (await isListening(path)) throw new SocketPathInUseError(path)
  // The probe took a while: another server may have replaced the stale file
  // with its own live socket meanwhile (two servers starting at once).
  // Check that it is still the file we probed, and remove it in the same
  // turn, so no other server of this process can slip in between.
  const now = lstatSync(path, { bigint: true, throwIfNoEntry: false })
  if (now === undefined) return
  // (An inode number can be reused at once for a new file: compare its change time too.)
  if (now.ino !== stats.ino || now.ctimeNs !== stats.ctimeNs) throw new SocketPathInUseError(path)
  try {
    unlinkSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
}

/**
 * Removes the socket file at `path` if it is still the one we created
 * (same inode), so a file another server put there since is left alone.
 * Synchronous: a Unix datagram server replacing a stuck socket must free its
 * path and bind again in one step (see UnixDatagramServer).
 */
export function removeSocketPath(path: string, inode: number | undefined): void {
  if (isAbstractPath(path) || inode === undefined) return
  try {
    const stats = lstatSocketFile(path)
    if (stats?.isSocket() !== true || Number(stats.ino) !== inode) return
    unlinkSync(path)
  } catch {
    // Gone meanwhile, its directory replaced or unreadable (ENOTDIR, EACCES),
    // or not ours to remove: nothing we can clean up.
  }
}

/**
 * `lstatSync` of a path that may be a socket, with BigInt figures. Node 20's
 * synchronous stat calls share one array of figures with the module loader,
 * and after a number-figured sync stat of a socket file its realpath step
 * misreads that array: a later `require()` of a package behind a pnpm
 * symlink loads from the link and cannot find the package's own
 * dependencies (binding a Unix datagram path over a stale socket file failed
 * with "Cannot find module 'node-unix-socket-linux-x64-gnu'"). The BigInt
 * figures live in an array of their own.
 */
export function lstatSocketFile(path: string): import('node:fs').BigIntStats | undefined {
  return lstatSync(path, { bigint: true, throwIfNoEntry: false })
}

/**
 * Closes a listening pipe server without letting libuv remove a file that is
 * no longer ours: libuv unlinks the path it bound on close, whatever is
 * there now. A foreign file is moved aside for the moment of the close.
 */
export async function closeKeepingForeignFile(path: string, inode: number | undefined, close: () => void): Promise<void> {
  const stats = isAbstractPath(path) ? undefined : await lstat(path).catch(() => undefined)
  if (stats === undefined || (stats.isSocket() && stats.ino === inode)) return close()
  const aside = join(dirname(path), `.${process.pid}.${Date.now()}.aside`)
  const moved = await rename(path, aside).then(
    () => true,
    () => false,
  )
  try {
    close()
  } finally {
    if (moved) await rename(aside, path).catch(() => {})
  }
}

/** The inode of the socket file at `path`, if there is one. */
export async function socketInode(path: string): Promise<number | undefined> {
  if (isAbstractPath(path)) return undefined
  const stats = await lstat(path).catch(() => undefined)
  return stats?.isSocket() === true ? stats.ino : undefined
}

function kindOf(stats: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): string {
  if (stats.isFile()) return 'regular file'
  if (stats.isDirectory()) return 'directory'
  if (stats.isSymbolicLink()) return 'symbolic link'
  return 'non-socket file'
}

/** Tries to connect: a live server accepts, a stale file refuses (ECONNREFUSED). */
function isListening(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.connect({ path })
    probe.once('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.once('error', (error: NodeJS.ErrnoException) => {
      probe.destroy()
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') resolve(false)
      // EAGAIN: a live stream server whose backlog is full; EPROTOTYPE: a live
      // socket of another type (a datagram server) is bound there.
      else if (error.code === 'EAGAIN' || error.code === 'EPROTOTYPE') resolve(true)
      else reject(error)
    })
  })
}
