import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { connect, type LoopbackClient, registerCleanup, until } from '@socketserver/testing'
import { expect, test } from 'vitest'

const SERVER = fileURLToPath(new URL('../fixtures/emfile-server.mjs', import.meta.url))
// Enough for Node to load the library (it reads modules several at a time), few enough to run out fast.
const LIMIT = 64

/** Starts the echo server fixture in a child process limited to LIMIT descriptors. */
async function startLimited(): Promise<{ child: ChildProcess; port: number; reports: string[]; handled: string[] }> {
  const child = spawn('bash', ['-c', `ulimit -n ${LIMIT} && exec "${process.execPath}" "${SERVER}"`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  registerCleanup(() => child.kill('SIGKILL'))
  const reports: string[] = []
  const handled: string[] = []
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  return new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      if (line.startsWith('READY ')) resolve({ child, port: Number(line.slice(6)), reports, handled })
      if (line.startsWith('ACCEPT_ERROR ')) reports.push(line.slice(13))
      if (line.startsWith('HANDLE_ERROR ')) handled.push(line.slice(13))
    })
    lines.on('close', () => reject(new Error('Cannot start the limited server')))
  })
}

/** User plus system CPU time of a process, in clock ticks (1/100 s). */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return Number(fields[11]) + Number(fields[12])
}

test('out of file descriptors (EMFILE), the server reports it with back-off, does not spin, and serves again once descriptors free up', async () => {
  const { child, port, reports, handled } = await startLimited()
  const address = { transport: 'tcp', host: '127.0.0.1', port, family: 'IPv4' } as const
  const clients: LoopbackClient[] = []
  for (let i = 0; i < LIMIT + 20; i++) {
    const client = await connect(address).catch(() => undefined)
    if (client !== undefined) clients.push(client)
  }
  // The server holds as many connections as its limit allows.
  await until(() => readdirSync(`/proc/${child.pid}/fd`).length >= LIMIT - 1, 10_000, 'the descriptor limit to be reached')
  expect(child.exitCode).toBeNull()
  // Reported (libuv hides it; the server's probe finds it), first at once
  // then after 0.1 s, 0.3 s, 0.7 s: a capped exponential back-off.
  await until(() => reports.length >= 1, 10_000, 'the exhaustion to be reported')
  const ticks = cpuTicks(child.pid as number)
  const started = Date.now()
  await until(() => reports.length >= 4, 10_000, 'three more reports')
  expect(new Set(reports)).toEqual(new Set(['EMFILE']))
  expect(handled).toContain('EMFILE')
  // While exhausted it does not spin: far less than a quarter of one CPU.
  const elapsedTicks = (Date.now() - started) / 10
  expect(cpuTicks(child.pid as number) - ticks).toBeLessThan(Math.max(5, elapsedTicks / 4))
  for (const client of clients) client.destroy()
  await until(() => readdirSync(`/proc/${child.pid}/fd`).length < LIMIT - 10, 10_000, 'descriptors to be freed')
  const client = await connect(address)
  await client.send('back\n')
  expect(await client.readLine()).toBe('back\n')
  client.destroy()
  child.kill('SIGTERM')
})
