/**
 * A real HAProxy in front of a server under test, for the PROXY protocol
 * and TLS: the load balancer users run, not an imitation of it.
 *
 * @module
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SocketAddress } from '@socketserver/core'
import { registerCleanup } from './cleanup.js'

/** Options of {@link startHAProxy}. */
export interface HAProxyOptions {
  /** What HAProxy's `server` line adds: `send-proxy`, `send-proxy-v2`, `send-proxy-v2-ssl`, ... Default none. */
  serverOptions?: string
  /** What its `bind` line adds: `ssl crt /path/bundle.pem` to end TLS there. Default none. */
  bindOptions?: string
}

/**
 * Whether `haproxy` can be run here (tests skip what needs it when not).
 *
 * @returns true when `haproxy -v` runs.
 * @example
 * ```ts
 * describe.skipIf(!hasHAProxy())('behind HAProxy', () => { ... })
 * ```
 */
export function hasHAProxy(): boolean {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/**
 * Starts HAProxy in TCP mode in front of `backend` and resolves with the
 * loopback port it listens on. No fixed port: python3 binds port 0 and
 * hands the socket to HAProxy as descriptor 3 (`bind fd@3`). Stopped (and
 * its configuration removed) when the test ends.
 *
 * @param backend - Where HAProxy sends connections (TCP or a Unix path).
 * @param options - Extra words for its `server` and `bind` lines.
 * @returns The port clients connect to, on 127.0.0.1.
 * @throws (rejects) when HAProxy exits at start, with what it printed.
 * @example
 * ```ts
 * const port = await startHAProxy(server.address, { serverOptions: 'send-proxy-v2' })
 * const client = await connect({ transport: 'tcp', host: '127.0.0.1', port, family: 'IPv4' })
 * ```
 */
export async function startHAProxy(backend: SocketAddress, options: HAProxyOptions = {}): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'ss-haproxy-'))
  registerCleanup(() => rmSync(dir, { recursive: true, force: true }))
  const target =
    'path' in backend ? `unix@${backend.path}` : `${backend.family === 'IPv6' ? `[${backend.host}]` : backend.host}:${backend.port}`
  const config = join(dir, 'haproxy.cfg')
  writeFileSync(
    config,
    [
      'global',
      '  maxconn 256',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend in',
      `  bind fd@3 ${options.bindOptions ?? ''}`,
      '  default_backend out',
      'backend out',
      `  server ours ${target} ${options.serverOptions ?? ''}`,
      '',
    ].join('\n'),
  )
  // Python binds port 0, says which port, and execs HAProxy with the socket as descriptor 3.
  const launcher = [
    'import os, socket, sys',
    's = socket.socket()',
    "s.bind(('127.0.0.1', 0))",
    's.listen(128)',
    "sys.stdout.write(str(s.getsockname()[1]) + '\\n'); sys.stdout.flush()",
    'os.dup2(s.fileno(), 3)',
    'os.set_inheritable(3, True)',
    "os.execvp('haproxy', ['haproxy', '-db', '-f', sys.argv[1]])",
  ].join('\n')
  const child: ChildProcess = spawn('python3', ['-c', launcher, config], { stdio: ['ignore', 'pipe', 'pipe'] })
  registerCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())))
    child.once('exit', (code) => reject(new Error(`Cannot start HAProxy: it exited with ${code}: ${stderr}`)))
  })
}
