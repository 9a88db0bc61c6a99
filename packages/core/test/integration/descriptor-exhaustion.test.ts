import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { connect, type LoopbackClient, registerCleanup, until } from '@socketserver/testing'
import { expect, test } from 'vitest'

const SERVER = fileURLToPath(new URL('../fixtures/emfile-server.mjs', import.meta.url))
const LIMIT = 40

/** Starts the echo server fixture in a child process limited to LIMIT descriptors. */
async function startLimited(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('bash', ['-c', `ulimit -n ${LIMIT} && exec "${process.execPath}" "${SERVER}"`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  registerCleanup(() => child.kill('SIGKILL'))
  for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
    if (line.startsWith('READY ')) return { child, port: Number(line.slice(6)) }
  }
  throw new Error('Cannot start the limited server')
}

test('out of file descriptors (EMFILE), the server stays up, does not crash, and serves again once descriptors free up', async () => {
  const { child, port } = await startLimited()
  const address = { transport: 'tcp', host: '127.0.0.1', port, family: 'IPv4' } as const
  const clients: LoopbackClient[] = []
  for (let i = 0; i < LIMIT + 20; i++) {
    const client = await connect(address).catch(() => undefined)
    if (client !== undefined) clients.push(client)
  }
  // The server holds as many connections as its limit allows.
  await until(() => readdirSync(`/proc/${child.pid}/fd`).length >= LIMIT - 1, 10_000, 'the descriptor limit to be reached')
  expect(child.exitCode).toBeNull()
  for (const client of clients) client.destroy()
  await until(() => readdirSync(`/proc/${child.pid}/fd`).length < LIMIT - 10, 10_000, 'descriptors to be freed')
  const client = await connect(address)
  await client.send('back\n')
  expect(await client.readLine()).toBe('back\n')
  client.destroy()
  child.kill('SIGTERM')
})
