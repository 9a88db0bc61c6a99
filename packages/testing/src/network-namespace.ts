/**
 * A process in a network namespace of its own, for tests that need fixed
 * ports (a portmapper's 111, `systemd-socket-activate`, which takes no port
 * 0): inside it, loopback is private, so nothing else on the machine can
 * hold or see those ports.
 *
 * @module
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { registerCleanup } from './cleanup.js'
import { DEFAULT_DEADLINE_MS, until } from './events.js'

/** A process started in a network namespace of its own. */
export interface NamespacedProcess {
  /** The process (`unshare` exec'd into the command: the same pid). */
  readonly child: ChildProcess
  /** Its pid, which names the namespace for {@link NamespacedProcess.run}. */
  readonly pid: number
  /** What it wrote on stdout and stderr so far. */
  output(): string
  /** Resolves once its output contains `text`; rejects at the deadline, or if it exits first. */
  waitFor(text: string, deadlineMs?: number): Promise<void>
  /**
   * Runs another command in the same namespace (`nsenter -n`, and `-m`
   * with `privateDirs`), a client say, and resolves when it exits.
   */
  run(command: string, args: readonly string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }>
  /** Its exit: the code, or the signal that ended it. */
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

let available: boolean | undefined

/**
 * Whether network namespaces can be made here (`unshare -n` needs root, or
 * user namespaces, and `ip` to bring loopback up).
 *
 * @returns true when a namespace could be made and its loopback brought up.
 * @example
 * ```ts
 * test.runIf(hasNetworkNamespaces())('binds port 111', async () => { ... })
 * ```
 */
export function hasNetworkNamespaces(): boolean {
  if (available !== undefined) return available
  try {
    execFileSync('unshare', ['-n', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' })
    available = true
  } catch {
    available = false
  }
  return available
}

/**
 * Starts `command` in a new network namespace with its loopback up. The
 * process is killed when the test ends (see `registerCleanup`).
 *
 * @param command - The program, such as `systemd-socket-activate`.
 * @param args - Its arguments.
 * @param options - Its environment and directory; `privateDirs`, directories
 *   that get an empty tmpfs of their own in a private mount namespace (for
 *   a daemon with a fixed path, such as rpcbind's `/run/rpcbind.sock`), seen
 *   by {@link NamespacedProcess.run} too.
 * @returns The running process.
 * @throws Error when namespaces cannot be made here (see {@link hasNetworkNamespaces}).
 * @example
 * ```ts
 * const activator = spawnInNetworkNamespace('systemd-socket-activate', ['-l', '127.0.0.1:7', 'node', 'server.mjs'])
 * await activator.waitFor('Listening on 127.0.0.1:7')
 * const { stdout } = await activator.run('python3', ['-c', client])
 * ```
 */
export function spawnInNetworkNamespace(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; privateDirs?: readonly string[] } = {},
): NamespacedProcess {
  if (!hasNetworkNamespaces()) throw new Error('Cannot make a network namespace here: "unshare -n" failed (it needs root)')
  const privateDirs = options.privateDirs ?? []
  for (const dir of privateDirs) {
    if (!dir.startsWith('/') || /[\s'"$`\\]/.test(dir))
      throw new Error(`Cannot make ${JSON.stringify(dir)} private: expected an absolute path without spaces or quotes`)
  }
  const mounts = privateDirs.map((dir) => `mount -t tmpfs tmpfs ${dir} && `).join('')
  const unshare = privateDirs.length === 0 ? ['-n'] : ['-n', '-m', '--propagation', 'private']
  const child = spawn('unshare', [...unshare, 'sh', '-c', `${mounts}ip link set lo up && exec "$0" "$@"`, command, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd,
  })
  let text = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString()
  })
  let exited = false
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true
      resolve({ code, signal })
    })
  })
  registerCleanup(() => {
    if (!exited) child.kill('SIGKILL')
  })
  const pid = child.pid ?? -1
  return {
    child,
    pid,
    exit,
    output: () => text,
    async waitFor(wanted: string, deadlineMs = DEFAULT_DEADLINE_MS) {
      await until(
        () => {
          if (text.includes(wanted)) return true
          if (exited) throw new Error(`${command} exited before writing ${JSON.stringify(wanted)}; it wrote:\n${text}`)
          return false
        },
        deadlineMs,
        `${command} to write ${JSON.stringify(wanted)}`,
      )
    },
    run(program, programArgs, input) {
      return new Promise((resolve, reject) => {
        const namespaces = privateDirs.length === 0 ? ['-n'] : ['-n', '-m']
        const client = spawn('nsenter', ['-t', String(pid), ...namespaces, program, ...programArgs], { stdio: ['pipe', 'pipe', 'pipe'] })
        let stdout = ''
        let stderr = ''
        client.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString()
        })
        client.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString()
        })
        client.once('error', reject)
        // A command that exits without reading its input: nothing to tell anyone.
        client.stdin.on('error', () => {})
        client.once('close', (code) => resolve({ code, stdout, stderr }))
        client.stdin.end(input ?? '')
      })
    },
  }
}
