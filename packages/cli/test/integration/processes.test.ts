// `socketserver serve ... --processes N`: a supervisor and its workers, as
// real processes, with real signals.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseHostPort } from '@socketserver/core'
import { openDatagramClient, processAlive, registerCleanup, spawnInNetworkNamespace, until } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

const BIN = fileURLToPath(new URL('../../bin/socketserver.js', import.meta.url))

// Each line is answered with the worker's pid; "hold" waits for the stop
// notice first, "crash" ends the worker's process. Datagrams get the pid too.
const HANDLER = `
export default async (request) => {
  if (request.kind === 'datagram') {
    const text = Buffer.from(request.data).toString()
    // "slow" is work that takes a while (a rolling restart comes meanwhile).
    if (text.startsWith('slow')) await new Promise((resolve) => setTimeout(resolve, 200))
    return request.reply(Buffer.from(process.pid + ' ' + text))
  }
  let pending = ''
  for await (const chunk of request.source) {
    pending += Buffer.from(chunk).toString()
    for (let at = pending.indexOf('\\n'); at !== -1; at = pending.indexOf('\\n')) {
      const line = pending.slice(0, at)
      pending = pending.slice(at + 1)
      if (line === 'crash') process.exit(3)
      if (line === 'stuck') {
        // Ignores the stop notice (says it heard it); only the force ends it.
        request.socket.write('stuck\\n')
        request.stopping.addEventListener('abort', () => request.socket.write('told\\n'), { once: true })
        await new Promise((resolve) => request.signal.addEventListener('abort', resolve, { once: true }))
        return
      }
      if (line === 'hold') {
        request.socket.write(process.pid + ' holding\\n')
        await new Promise((resolve) => request.stopping.addEventListener('abort', resolve, { once: true }))
      }
      request.socket.write(process.pid + ' ' + line + '\\n')
    }
  }
}
`

function handlerModule(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ss-processes-'))
  registerCleanup(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'pid-echo.mjs')
  writeFileSync(path, HANDLER)
  return path
}

interface Supervised {
  child: ChildProcess
  lines: string[]
  stderr: () => string
  exit: Promise<number | null>
  /** The worker pids the supervisor last named ("pids a, b"). */
  pids: () => number[]
}

/** Starts the command and waits for its "listening" lines and the workers' pids. */
async function startSupervised(args: string[], listeners: number): Promise<Supervised> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  registerCleanup(() => child.kill('SIGKILL'))
  const lines: string[] = []
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
    lines.splice(0, lines.length, ...stdout.split('\n').filter(Boolean))
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const pids = (): number[] => {
    const named = [...stderr.matchAll(/pids ([\d, ]+)\)/g)].at(-1)?.[1]
    return named === undefined ? [] : named.split(', ').map(Number)
  }
  await until(
    () => lines.length >= listeners && pids().length > 0,
    20_000,
    `${listeners} listening lines and the workers' pids; stderr: ${stderr}`,
  )
  return { child, lines, stderr: () => stderr, exit, pids }
}

function addressOf(line: string): { host: string; port: number } {
  return parseHostPort(line.split(' ')[2] as string)
}

/** One connection, one line; resolves with the reply line, or rejects. */
function ask(port: number, line: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port })
    let reply = ''
    socket.setTimeout(10_000, () => socket.destroy(new Error('no reply within 10 s')))
    socket.on('connect', () => socket.write(`${line}\n`))
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString()
      if (reply.endsWith('\n')) {
        socket.end()
        resolve(reply.trimEnd())
      }
    })
    socket.on('error', reject)
    socket.on('close', () => reject(new Error(`closed after ${JSON.stringify(reply)}`)))
  })
}

describe('--processes', () => {
  test('two workers serve TCP, Unix and UDP listeners bound once; 64 concurrent connections are spread over both', async () => {
    const unixPath = join(mkdtempSync(join(tmpdir(), 'ss-processes-sock-')), 'echo.sock')
    const cli = await startSupervised(
      ['serve', handlerModule(), '--tcp', '127.0.0.1:0', '--unix', unixPath, '--udp', '127.0.0.1:0', '--processes', '2'],
      3,
    )
    expect(cli.lines.map((line) => line.split(' ').slice(0, 2).join(' '))).toEqual(['listening tcp', 'listening unix', 'listening udp'])
    const workers = cli.pids()
    expect(workers).toHaveLength(2)
    const { port } = addressOf(cli.lines[0] as string)
    const replies = await Promise.all(Array.from({ length: 64 }, (_, index) => ask(port, `n${index}`)))
    const served = new Map<number, number>()
    for (const reply of replies) served.set(Number(reply.split(' ')[0]), (served.get(Number(reply.split(' ')[0])) ?? 0) + 1)
    expect([...served.keys()].every((pid) => workers.includes(pid))).toBe(true)
    // Both take connections (the README gives the spread measured under load).
    await until(
      async () => {
        const more = await Promise.all(Array.from({ length: 16 }, (_, index) => ask(port, `m${index}`)))
        for (const reply of more) served.set(Number(reply.split(' ')[0]), (served.get(Number(reply.split(' ')[0])) ?? 0) + 1)
        return served.size === 2
      },
      20_000,
      'both workers to serve',
    )
    const unixReply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ path: unixPath }, () => socket.write('unix\n'))
      socket.on('data', (chunk: Buffer) => resolve(chunk.toString().trimEnd()))
      socket.on('error', reject)
    })
    expect(workers).toContain(Number(unixReply.split(' ')[0]))
    const udp = await openDatagramClient(addressOf(cli.lines[2] as string) as never)
    registerCleanup(() => udp.close())
    await udp.send('datagram')
    const datagramReply = Buffer.from(await udp.receive(10_000)).toString()
    expect(workers).toContain(Number(datagramReply.split(' ')[0]))
    expect(datagramReply.endsWith(' datagram')).toBe(true)
    cli.child.kill('SIGTERM')
    expect(await cli.exit).toBe(0)
    for (const pid of workers) expect(processAlive(pid)).toBe(false)
    expect(existsSync(unixPath)).toBe(false)
  })

  test('SIGHUP under load: new workers replace the old ones, and not one request fails', async () => {
    const cli = await startSupervised(['serve', handlerModule(), '--tcp', '127.0.0.1:0', '--processes', '2'], 1)
    const before = cli.pids()
    const { port } = addressOf(cli.lines[0] as string)
    let sent = 0
    let failed = 0
    const failures: string[] = []
    let running = true
    // Two clients making new connections as fast as they can.
    const connecting = Array.from({ length: 2 }, async () => {
      while (running) {
        sent++
        await ask(port, 'new').catch((error: Error) => {
          failed++
          failures.push(error.message)
        })
      }
    })
    // Two holding persistent connections, a line at a time. A connection the
    // server closes between requests (its worker stopping) is opened again,
    // and a request it closed before reading is sent again, as an HTTP
    // client does with an idle keep-alive connection.
    const persistent = Array.from({ length: 2 }, async () => {
      let socket: net.Socket | undefined
      let buffered = ''
      let onLine: ((line: string | undefined) => void) | undefined
      const open = (): Promise<void> =>
        new Promise((resolve, reject) => {
          buffered = ''
          socket = net.connect({ host: '127.0.0.1', port }, resolve)
          socket.once('error', reject)
          socket.on('data', (chunk: Buffer) => {
            buffered += chunk.toString()
            const at = buffered.indexOf('\n')
            if (at !== -1) {
              const line = buffered.slice(0, at)
              buffered = buffered.slice(at + 1)
              onLine?.(line)
            }
          })
          socket.on('close', () => onLine?.(undefined))
        })
      const request = (): Promise<string | undefined> =>
        new Promise((resolve) => {
          onLine = resolve
          socket?.write('kept\n')
        })
      await open()
      while (running) {
        sent++
        let reply = await request()
        if (reply === undefined) {
          // Closed before a byte of the reply: the request was not read; again, on a new connection.
          await open()
          reply = await request()
        }
        if (reply === undefined) {
          failed++
          failures.push('a persistent request got no reply, twice')
          await open()
        }
      }
      socket?.end()
    })
    await until(() => sent > 50, 20_000, 'the clients to get going')
    cli.child.kill('SIGHUP')
    await until(() => cli.stderr().includes('restarted the workers'), 30_000, 'the rolling restart')
    const sentAtRestart = sent
    await until(() => sent > sentAtRestart + 50, 20_000, 'requests after the restart')
    running = false
    await Promise.all([...connecting, ...persistent])
    const after = cli.pids()
    expect(failures).toEqual([])
    expect(failed).toBe(0)
    expect(after).toHaveLength(2)
    expect(after.some((pid) => before.includes(pid))).toBe(false)
    for (const pid of before) expect(processAlive(pid)).toBe(false)
    cli.child.kill('SIGTERM')
    expect(await cli.exit).toBe(0)
  })

  test('a worker killed under load is replaced; only its own requests fail', async () => {
    const cli = await startSupervised(['serve', handlerModule(), '--tcp', '127.0.0.1:0', '--processes', '2'], 1)
    const [victim, survivor] = cli.pids() as [number, number]
    const { port } = addressOf(cli.lines[0] as string)
    // Two clients connecting as fast as they can while the worker dies: at
    // most the requests in flight on it (one per client) fail.
    let running = true
    let failed = 0
    let succeeded = 0
    const clients = Array.from({ length: 2 }, async () => {
      while (running)
        await ask(port, 'load').then(
          () => succeeded++,
          () => failed++,
        )
    })
    await until(() => succeeded > 20, 10_000, 'the clients to get going')
    process.kill(victim, 'SIGKILL')
    await until(() => cli.stderr().includes(`worker ${victim} exited with SIGKILL; replacing it`), 10_000, 'the crash to be seen')
    const afterCrash = succeeded
    await until(() => succeeded > afterCrash + 20, 10_000, 'requests after the crash')
    running = false
    await Promise.all(clients)
    expect(failed).toBeLessThanOrEqual(2)
    // Served throughout by the survivor, then by the replacement too.
    const seen = new Set<number>()
    await until(
      async () => {
        for (const reply of await Promise.all(Array.from({ length: 8 }, () => ask(port, 'after')))) seen.add(Number(reply.split(' ')[0]))
        return seen.size === 2
      },
      20_000,
      'a replacement worker to serve',
    )
    expect(seen.has(survivor)).toBe(true)
    expect(seen.has(victim)).toBe(false)
    cli.child.kill('SIGTERM')
    expect(await cli.exit).toBe(0)
  })

  test('SIGTERM with a request in flight: it completes, then every process exits', async () => {
    const cli = await startSupervised(['serve', handlerModule(), '--tcp', '127.0.0.1:0', '--processes', '2'], 1)
    const workers = cli.pids()
    const { port } = addressOf(cli.lines[0] as string)
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write('hold\n'))
    registerCleanup(() => socket.destroy())
    let received = ''
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString()
    })
    // Running in its worker (it said so); only the stop notice releases it.
    await until(() => received.includes('holding\n'), 10_000, 'the request to run')
    cli.child.kill('SIGTERM')
    await until(() => received.split('\n').length === 3, 20_000, 'the held request to finish')
    const [first, second] = received.split('\n')
    expect(workers).toContain(Number(first?.split(' ')[0]))
    expect(second).toBe(`${first?.split(' ')[0]} hold`)
    expect(await cli.exit).toBe(0)
    for (const pid of workers) expect(processAlive(pid)).toBe(false)
  })

  test('a second SIGTERM ends the running requests at once, as in one process', async () => {
    const cli = await startSupervised(['serve', handlerModule(), '--tcp', '127.0.0.1:0', '--processes', '2'], 1)
    const workers = cli.pids()
    const { port } = addressOf(cli.lines[0] as string)
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write('stuck\n'))
    registerCleanup(() => socket.destroy())
    let received = ''
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString()
    })
    socket.on('error', () => {})
    await until(() => received.includes('stuck\n'), 10_000, 'the request to run')
    cli.child.kill('SIGTERM')
    // The drain has begun (the handler heard the stop notice); it would wait 30 s.
    await until(() => received.includes('told\n'), 10_000, 'the stop notice')
    cli.child.kill('SIGTERM')
    expect(await cli.exit).toBe(0)
    for (const pid of workers) expect(processAlive(pid)).toBe(false)
  })

  test('the supervisor killed: its workers notice and exit', async () => {
    const cli = await startSupervised(['serve', handlerModule(), '--tcp', '127.0.0.1:0', '--processes', '2'], 1)
    const workers = cli.pids()
    cli.child.kill('SIGKILL')
    await cli.exit
    await until(() => workers.every((pid) => !processAlive(pid)), 10_000, 'the workers to exit')
  })

  test('workers that keep crashing stop the supervisor with a clear error (exit 1), not a loop', async () => {
    const cli = await startSupervised(['serve', handlerModule(), '--tcp', '127.0.0.1:0', '--processes', '1'], 1)
    const { port } = addressOf(cli.lines[0] as string)
    let exited = false
    void cli.exit.then(() => {
      exited = true
    })
    await until(
      async () => {
        if (!exited) await ask(port, 'crash').catch(() => {})
        return exited
      },
      30_000,
      'the supervisor to give up',
    )
    expect(await cli.exit).toBe(1)
    expect(cli.stderr()).toMatch(/Cannot keep the workers running: 5 crashed within 30000 ms/)
  })

  test('--listen-fds with --processes 2 under systemd-socket-activate: the workers serve the activated sockets', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ss-processes-activated-')), 'echo.sock')
    const activator = spawnInNetworkNamespace('systemd-socket-activate', [
      '-l',
      '127.0.0.1:7007',
      '-l',
      path,
      process.execPath,
      BIN,
      'serve',
      handlerModule(),
      '--listen-fds',
      '--processes',
      '2',
    ])
    await activator.waitFor(`Listening on ${path}`)
    // The first connection starts the command; it is served once the workers are.
    const first = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ path }, () => socket.write('first\n'))
      registerCleanup(() => socket.destroy())
      socket.on('data', (chunk: Buffer) => resolve(chunk.toString().trimEnd()))
      socket.on('error', reject)
    })
    await activator.waitFor('2 workers serving')
    const workers = [...activator.output().matchAll(/pids ([\d, ]+)\)/g)].at(-1)?.[1]?.split(', ').map(Number) ?? []
    expect(workers).toHaveLength(2)
    expect(workers).toContain(Number(first.split(' ')[0]))
    expect(activator.output()).toContain('listening tcp 127.0.0.1:7007')
    expect(activator.output()).toContain(`listening unix ${path}`)
    const overTcp = await activator.run('python3', [
      '-c',
      "import socket; s = socket.create_connection(('127.0.0.1', 7007), timeout=5); s.sendall(b'tcp\\n'); print(s.recv(100).decode().strip())",
    ])
    expect(workers).toContain(Number(overTcp.stdout.split(' ')[0]))
    activator.child.kill('SIGTERM')
    expect((await activator.exit).code).toBe(0)
    for (const pid of workers) expect(processAlive(pid)).toBe(false)
  })

  test('a Unix datagram listener: the supervisor relays its datagrams to the workers, both serve, and a rolling restart hands it to the new ones', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ss-processes-dgram-')), 'echo.dgram')
    const cli = await startSupervised(['serve', handlerModule(), '--unix-dgram', path, '--processes', '2'], 1)
    expect(cli.lines[0]).toBe(`listening unix-dgram ${path}`)
    const client = await openDatagramClient({ transport: 'unix-dgram', path })
    registerCleanup(() => client.close())
    const servedBy = async (): Promise<number> => {
      await client.send('who')
      const reply = Buffer.from(await client.receive(10_000)).toString()
      expect(reply.endsWith(' who')).toBe(true)
      return Number(reply.split(' ')[0])
    }
    const before = cli.pids()
    const seen = new Set<number>()
    for (let i = 0; i < 6; i++) seen.add(await servedBy())
    expect([...seen].sort()).toEqual([...before].sort())
    cli.child.kill('SIGHUP')
    await until(() => cli.stderr().includes('restarted the workers'), 30_000, 'the rolling restart')
    const after = cli.pids()
    expect(after).toContain(await servedBy())
    expect(after.some((pid) => before.includes(pid))).toBe(false)
    cli.child.kill('SIGTERM')
    expect(await cli.exit).toBe(0)
    expect(existsSync(path)).toBe(false)
  })

  test('relayed Unix datagrams: a rolling restart gives back what a stopping worker had not taken (all answered), and workers killed under a flood do not take the supervisor down', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ss-processes-dgram2-')), 'echo.dgram')
    const cli = await startSupervised(['serve', handlerModule(), '--unix-dgram', path, '--processes', '2', '--concurrency', '1'], 1)
    const client = await openDatagramClient({ transport: 'unix-dgram', path })
    registerCleanup(() => client.close())
    // Six slow datagrams, one at a time per worker: most wait inside the workers when the restart begins.
    for (let i = 0; i < 6; i++) await client.send(`slow ${i}`)
    cli.child.kill('SIGHUP')
    const answered = new Set<string>()
    for (let i = 0; i < 6; i++)
      answered.add(
        Buffer.from(await client.receive(20_000))
          .toString()
          .split(' ')
          .slice(1)
          .join(' '),
      )
    expect([...answered].sort()).toEqual(['slow 0', 'slow 1', 'slow 2', 'slow 3', 'slow 4', 'slow 5'])
    await until(() => cli.stderr().includes('restarted the workers'), 30_000, 'the rolling restart')
    // A flood while workers are killed: the supervisor keeps serving.
    let flooding = true
    // Four clients sending as fast as their replies come back (each reads
    // its replies: a client that does not makes the server's socket stall,
    // which is another test's subject).
    const flood = Promise.all(
      Array.from({ length: 4 }, async () => {
        const sender = await openDatagramClient({ transport: 'unix-dgram', path })
        try {
          while (flooding) {
            await sender.send('flood')
            await sender.receive(1_000).catch(() => {})
          }
        } finally {
          sender.close()
        }
      }),
    )
    const restarted = cli.pids()
    for (const victim of restarted) {
      process.kill(victim, 'SIGKILL')
      await until(() => cli.stderr().includes(`worker ${victim} exited with SIGKILL`), 10_000, 'the crash to be seen')
    }
    flooding = false
    await flood
    // Replacements start after a back-off; a datagram meanwhile waits for one of them.
    await client.send('after')
    // Replies to the flood may still be on their way to its own client; ours is this one's.
    const after = Buffer.from(await client.receive(15_000)).toString()
    expect(after.endsWith(' after')).toBe(true)
    expect(processAlive(cli.child.pid as number)).toBe(true)
    cli.child.kill('SIGTERM')
    expect(await cli.exit).toBe(0)
    // Two rolling restarts' worth of Node start-ups, on a loaded machine.
  }, 60_000)

  test('a handler module that cannot load fails the start with exit 2; a bad count is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-processes-bad-'))
    registerCleanup(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, 'broken.mjs'), 'throw new Error("broken at load")\n')
    const run = (args: string[]): Promise<{ code: number | null; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
        let stderr = ''
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString()
        })
        child.once('exit', (code) => resolve({ code, stderr }))
      })
    const broken = await run(['serve', join(dir, 'broken.mjs'), '--tcp', '127.0.0.1:0', '--processes', '2'])
    expect(broken.code).toBe(2)
    expect(broken.stderr).toContain('Cannot start a worker')
    expect(broken.stderr).toContain('broken at load')
    const zero = await run(['serve', 'echo', '--tcp', '127.0.0.1:0', '--processes', '0'])
    expect(zero.code).toBe(2)
    expect(zero.stderr).toContain('expected a whole number of 1 or more, or auto')
  })
})

describe('--processes and a module with listening()', () => {
  test('the hook runs once, in the supervisor, with every listener; not again on a rolling restart; its cleanup once at the stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-processes-hook-'))
    registerCleanup(() => rmSync(dir, { recursive: true, force: true }))
    const log = join(dir, 'log')
    const module = join(dir, 'hooked.mjs')
    writeFileSync(
      module,
      `${HANDLER}
import { appendFileSync } from 'node:fs'
export function listening(listeners, signal) {
  appendFileSync(${JSON.stringify(log)}, 'listening ' + process.pid + ' ' + listeners.map((l) => l.address.transport).join(',') + '\\n')
  return () => appendFileSync(${JSON.stringify(log)}, 'stopped ' + process.pid + ' ' + signal.aborted + '\\n')
}
`,
    )
    const { readFileSync } = await import('node:fs')
    const cli = await startSupervised(['serve', module, '--tcp', '127.0.0.1:0', '--udp', '127.0.0.1:0', '--processes', '2'], 2)
    const supervisor = cli.child.pid as number
    expect(readFileSync(log, 'utf8')).toBe(`listening ${supervisor} tcp,udp\n`)
    const before = cli.pids()
    cli.child.kill('SIGHUP')
    await until(
      () => {
        // A restart that failed (a new worker not ready in time on a loaded machine) says so: fail with it, not a timeout.
        if (cli.stderr().includes('the old workers keep serving')) throw new Error(`the rolling restart failed: ${cli.stderr()}`)
        return cli.pids().every((pid) => !before.includes(pid))
      },
      30_000,
      'the workers to be replaced',
    )
    expect(readFileSync(log, 'utf8')).toBe(`listening ${supervisor} tcp,udp\n`)
    cli.child.kill('SIGTERM')
    expect(await cli.exit).toBe(0)
    expect(readFileSync(log, 'utf8')).toBe(`listening ${supervisor} tcp,udp\nstopped ${supervisor} true\n`)
  }, 60_000)
})
