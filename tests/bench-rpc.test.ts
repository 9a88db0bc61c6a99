// The ONC RPC rows of `pnpm bench`, in small: the load generator's RPC mode
// (LOADGEN_RPC, a new xid per call) against our rpcHandler() (bench's
// rpc-kv service) and against the same program's C server built by
// Debian's rpcgen, over TCP and UDP, for a fraction of a second each. Every
// call must be answered: no failure, no lost datagram.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { registerCleanup } from '@socketserver/testing'
import { beforeAll, describe, expect, test } from 'vitest'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))
const built = mkdtempSync(join(tmpdir(), 'ss-bench-rpc-'))
const loadgen = join(built, 'loadgen')
const KV_NULL = '536871169.1.0'
const KV_ECHO = '536871169.1.6'

beforeAll(async () => {
  await run('gcc', ['-O2', '-o', loadgen, join(root, 'bench', 'loadgen.c')])
  await run(join(root, 'examples', 'key-value', 'c', 'build.sh'), [join(built, 'kv')])
  // ours.mjs imports bench/.build/kv.js, as `pnpm bench` writes it.
  mkdirSync(join(root, 'bench', '.build'), { recursive: true })
  await run(process.execPath, [
    join(root, 'packages', 'cli', 'bin', 'socketserver.js'),
    'rpcgen',
    join(root, 'examples', 'key-value', 'kv.x'),
    '--out',
    join(root, 'bench', '.build'),
    '--js',
  ])
}, 60_000)
registerCleanup(() => rmSync(built, { recursive: true, force: true }))

/** Starts a server and resolves with the address its first line names. */
function start(command: string, args: string[], addressOf: (line: string) => string | undefined): Promise<string> {
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  registerCleanup(() => child.kill('SIGKILL'))
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    lines.on('line', (line) => {
      const address = addressOf(line)
      if (address !== undefined) resolve(address)
    })
    child.once('exit', (code) => reject(new Error(`${command} exited (${code}) before it was ready`)))
  })
}

async function calls(transport: 'tcp' | 'udp', address: string, procedure: string, size: number) {
  const { stdout } = await run(loadgen, ['pingpong', transport, address, '8', String(size), '0.3'], {
    env: { ...process.env, LOADGEN_RPC: procedure },
  })
  return JSON.parse(stdout.trim()) as { requests: number; failures: number }
}

describe.each(['tcp', 'udp'] as const)('the ONC RPC bench rows over %s', (transport) => {
  test('our rpcHandler() answers every NULL and echo call of the load generator', async () => {
    const address = await start(process.execPath, [join(root, 'bench', 'servers', 'ours.mjs'), transport, 'pooled', 'rpc-kv'], (line) =>
      line.startsWith('READY ') ? line.slice(6) : undefined,
    )
    for (const [procedure, size] of [
      [KV_NULL, 0],
      [KV_ECHO, 64],
    ] as const) {
      const result = await calls(transport, address, procedure, size)
      expect(result.requests).toBeGreaterThan(0)
      expect(result.failures).toBe(0)
    }
  })

  test("rpcgen's C server answers them too (the rows' baseline)", async () => {
    const address = await start(join(built, 'kv', 'server'), [], (line) => {
      const match = /^ready tcp (\d+) udp (\d+)$/.exec(line)
      return match === null ? undefined : `127.0.0.1:${transport === 'udp' ? match[2] : match[1]}`
    })
    const result = await calls(transport, address, KV_ECHO, 64)
    expect(result.requests).toBeGreaterThan(0)
    expect(result.failures).toBe(0)
  })
})
