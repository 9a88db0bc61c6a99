/**
 * A private PostgreSQL server for tests: `initdb` into a temporary
 * directory, started with `pg_ctl` on a Unix socket in that directory (no
 * TCP port), stopped and removed when the test ends. Nothing else on the
 * machine sees it, and it needs no running service.
 *
 * @module
 */

import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { registerCleanup } from './cleanup.js'

const run = promisify(execFile)

/** A running private PostgreSQL server. */
export interface PostgresServer {
  /** Its directory: the data (`data/`), the socket, the log (`log`). */
  readonly dir: string
  /** The directory of its Unix socket (`.s.PGSQL.<port>`), which clients give as the host. */
  readonly socketDir: string
  /** The port that names the socket (no TCP port is open). */
  readonly port: number
  /** Its superuser, who connects without a password over the socket. */
  readonly user: string
  /** A connection URL for `pg` and `psql`: `postgresql://USER@/postgres?host=SOCKETDIR&port=PORT`. */
  readonly url: string
  /** Runs SQL with `psql` (unaligned, tuples only) and resolves with its output. */
  psql(sql: string): Promise<string>
  /** Stops it (fast: open connections are cut) and starts it again on the same data. */
  restart(): Promise<void>
  /** Stops it and removes its directory. Idempotent. */
  stop(): Promise<void>
}

/** The directory of `initdb` and `pg_ctl`, or undefined when PostgreSQL is not installed. */
function binDir(): string | undefined {
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim()
    return existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')) ? dir : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether a server can be started here (`pg_config` names a directory with
 * `initdb` and `pg_ctl`). Tests that need one should fail, not skip, when
 * it cannot: call {@link startPostgres} and let it throw.
 *
 * @returns true when PostgreSQL's server programs are installed.
 */
export function hasPostgres(): boolean {
  return binDir() !== undefined
}

/**
 * Starts a private PostgreSQL server. As root (PostgreSQL refuses to run as
 * root) it runs as `nobody`, which owns its directory. Inside a test it is
 * stopped and removed when the test ends. It never outlives this process:
 * a watchdog (a shell checking every second that this process is alive)
 * stops it and removes its directory when this process ends without
 * `stop()` (killed by a signal, say).
 *
 * @param options - `port`: the number in the socket's name (default 5432:
 *   the socket is in a directory of its own, so any number is free).
 * @returns The running server.
 * @throws Error naming what failed (and the server's log) when PostgreSQL
 *   is not installed or does not start.
 * @example
 * ```ts
 * const db = await startPostgres()
 * await db.psql('create table jobs (id bigserial primary key, data text)')
 * const client = new pg.Client({ connectionString: db.url })
 * ```
 */
export async function startPostgres(options: { port?: number } = {}): Promise<PostgresServer> {
  const bin = binDir()
  if (bin === undefined) throw new Error('Cannot start PostgreSQL: pg_config does not name a directory with initdb and pg_ctl')
  const port = options.port ?? 5432
  const dir = mkdtempSync(join(tmpdir(), 'ss-pg-'))
  const data = join(dir, 'data')
  const log = join(dir, 'log')
  const asRoot = process.getuid?.() === 0
  // PostgreSQL will not run as root: the server and its files belong to nobody then.
  if (asRoot) chownSync(dir, 65534, 65534)
  const as = (program: string, args: string[]): [string, string[]] =>
    asRoot ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', join(bin, program), ...args]] : [join(bin, program), args]
  const user = 'postgres'
  const serverOptions = `-k ${dir} -p ${port} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off`
  const startArgs = ['-D', data, '-l', log, '-o', serverOptions, '-w', '-t', '60', 'start']
  const failure = (what: string, error: unknown): Error => {
    const text = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-20).join('\n') : ''
    const detail = (error as { stderr?: string }).stderr ?? (error as Error).message
    return new Error(`Cannot ${what} PostgreSQL in ${dir}: ${detail.trim()}${text ? `\nits log ends:\n${text}` : ''}`)
  }
  // How stop() ends the server, and the watchdog too if this process goes first.
  const stopServer = as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
  let stopped = false
  let watchdog: ChildProcess | undefined
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    watchdog?.kill('SIGKILL')
    await run(...stopServer).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await run(...as('initdb', ['-D', data, '-U', user, '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']))
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw failure('initialise', error)
  }
  try {
    await run(...as('pg_ctl', startArgs))
  } catch (error) {
    const problem = failure('start', error)
    await stop()
    throw problem
  }
  watchdog = startWatchdog(stopServer, dir)
  registerCleanup(stop)
  const url = `postgresql://${user}@/postgres?host=${encodeURIComponent(dir)}&port=${port}`
  return {
    dir,
    socketDir: dir,
    port,
    user,
    url,
    async psql(sql) {
      const { stdout } = await run('psql', [
        '-X',
        '-q',
        '-t',
        '-A',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        dir,
        '-p',
        String(port),
        '-U',
        user,
        '-d',
        'postgres',
        '-c',
        sql,
      ])
      return stdout
    },
    async restart() {
      try {
        await run(...as('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']))
        await run(...as('pg_ctl', startArgs))
      } catch (error) {
        throw failure('restart', error)
      }
    },
    stop,
  }
}

/** Single-quotes a word for `sh`. */
function shellWord(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`
}

/**
 * A shell, in a process group of its own (a signal to ours does not reach
 * it), that runs `stopCommand` and removes `dir` once this process is gone.
 * `stop()` kills it first.
 */
function startWatchdog([program, args]: [string, string[]], dir: string): ChildProcess {
  const stopCommand = [program, ...args].map(shellWord).join(' ')
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${stopCommand} >/dev/null 2>&1; rm -rf ${shellWord(dir)}`
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' })
  child.unref()
  return child
}
