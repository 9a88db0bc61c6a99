// The key-value example end to end: kv.x compiled by our rpcgen (served by
// the CLI) and by Debian's rpcgen (a C client and a C server on libtirpc),
// each side calling the other over TCP and UDP, and the program registered
// with the CLI's portmapper and listed by rpcinfo.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { RpcClient } from '@socketserver/oncrpc'
import { hasNetworkNamespaces, registerCleanup, spawnInNetworkNamespace } from '@socketserver/testing'
import { beforeAll, describe, expect, test } from 'vitest'

const run = promisify(execFile)
const here = fileURLToPath(new URL('.', import.meta.url))
const cli = fileURLToPath(new URL('../../packages/cli/bin/socketserver.js', import.meta.url))
const built = mkdtempSync(join(tmpdir(), 'kv-c-'))

const CONVERSATION = (listOrder: string) =>
  [
    'NULL -> ok',
    'PUT a 1 -> 0',
    'PUT b hello -> 0',
    'PUT a one -> 0',
    'GET a -> one',
    'GET b -> hello',
    'GET missing -> status 1',
    'COUNT -> 2',
    `LIST -> ${listOrder}`,
    'DELETE a -> 1',
    'DELETE a -> 0',
    'ECHO -> 5 bytes, same',
    'COUNT -> 1',
    '',
  ].join('\n')

beforeAll(async () => {
  await run(process.execPath, [cli, 'rpcgen', join(here, 'kv.x'), '--out', here, '--js'])
  await run(join(here, 'c', 'build.sh'), [built])
}, 60_000)
registerCleanup(() => rmSync(built, { recursive: true, force: true }))

/** Starts a process and resolves with it once its output matches `ready`. */
function start(command: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = process.env) {
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
  registerCleanup(() => child.kill('SIGKILL'))
  let output = ''
  return new Promise<{ child: ChildProcess; match: RegExpMatchArray }>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      const match = output.match(ready)
      if (match !== null) resolve({ child, match })
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code) => reject(new Error(`${command} exited (${code}) before it was ready:\n${output}`)))
  })
}

describe('the key-value store of kv.x', () => {
  test.each(['tcp', 'udp'] as const)("rpcgen's C client calls our server over %s", async (transport) => {
    const { match } = await start(
      process.execPath,
      [cli, 'serve', join(here, 'server.mjs'), '--tcp', '127.0.0.1:0', '--udp', '127.0.0.1:0'],
      /listening tcp 127\.0\.0\.1:(\d+)\nlistening udp 127\.0\.0\.1:(\d+)\n/,
    )
    const port = transport === 'tcp' ? match[1] : match[2]
    const { stdout } = await run(join(built, 'client'), [transport, '127.0.0.1', port as string])
    expect(stdout).toBe(CONVERSATION('a=one b=hello'))
  })

  test.each(['tcp', 'udp'] as const)("our client calls rpcgen's C server over %s", async (transport) => {
    const { match } = await start(join(built, 'server'), [], /ready tcp (\d+) udp (\d+)\n/)
    const port = Number(transport === 'tcp' ? match[1] : match[2])
    const { KV_V1_client } = await import(join(here, 'kv.js'))
    const client = await RpcClient.connect({ transport, host: '127.0.0.1', port })
    registerCleanup(() => client.close())
    const kv = KV_V1_client(client)
    expect(await kv.KV_PUT({ key: 'k', value: Buffer.from('v1') })).toBe('KV_OK')
    expect(await kv.KV_PUT({ key: 'j', value: Buffer.from('v2') })).toBe('KV_OK')
    const found = await kv.KV_GET('k')
    expect([found.tag, Buffer.from(found.value).toString()]).toEqual(['KV_OK', 'v1'])
    expect(await kv.KV_GET('nope')).toEqual({ tag: 'KV_NOT_FOUND', value: undefined })
    expect(await kv.KV_COUNT(undefined)).toBe(2)
    const list = await kv.KV_LIST(undefined)
    expect([list?.entry.key, list?.next?.entry.key, list?.next?.next]).toEqual(['k', 'j', undefined])
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff)
    expect([...(await kv.KV_ECHO(bytes))]).toEqual([...bytes])
    expect(await kv.KV_DELETE('k')).toBe(true)
    expect(await kv.KV_COUNT(undefined)).toBe(1)
  })

  test.runIf(hasNetworkNamespaces())('registers with `socketserver serve portmap` on port 111, and rpcinfo finds it', async () => {
    const portmap = spawnInNetworkNamespace(process.execPath, [cli, 'serve', 'portmap', '--tcp', '127.0.0.1:111', '--udp', '127.0.0.1:111'])
    await portmap.waitFor('listening udp 127.0.0.1:111\n')
    const kv = spawn(
      'nsenter',
      [
        '-t',
        String(portmap.pid),
        '-n',
        process.execPath,
        cli,
        'serve',
        join(here, 'server.mjs'),
        '--tcp',
        '127.0.0.1:0',
        '--udp',
        '127.0.0.1:0',
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, KV_REGISTER: '1' },
      },
    )
    registerCleanup(() => kv.kill('SIGKILL'))
    let output = ''
    kv.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    const listed = async () => (await portmap.run('rpcinfo', ['-p', '127.0.0.1'])).stdout
    await new Promise<void>((resolve) => kv.stdout.on('data', () => output.includes('listening udp') && resolve()))
    const table = await listed()
    expect(table).toContain('    100000    2   tcp    111  portmapper\n')
    expect(table).toMatch(/ 536871169 {4}1 {3}tcp {2}\d+\n/)
    expect(table).toMatch(/ 536871169 {4}1 {3}udp {2}\d+\n/)
    expect((await portmap.run('rpcinfo', ['-u', '127.0.0.1', '536871169', '1'])).stdout).toBe(
      'program 536871169 version 1 ready and waiting\n',
    )
    const tcpPort = /listening tcp 127\.0\.0\.1:(\d+)/.exec(output)?.[1] as string
    expect((await portmap.run(join(built, 'client'), ['tcp', '127.0.0.1', tcpPort])).stdout).toBe(CONVERSATION('a=one b=hello'))
    const exited = new Promise((resolve) => kv.once('exit', resolve))
    kv.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(await listed()).not.toContain('536871169')
  })
})
