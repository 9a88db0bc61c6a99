import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import {
  type ForkedPolicy,
  forked,
  HandlerError,
  RequestTimeoutError,
  serve,
  WorkerCrashedError,
  WorkerStartError,
} from '@socketserver/core'
import {
  connect,
  describeDatagramHandlerCompliance,
  describeHandlerCompliance,
  listen,
  listenDatagram,
  nextEvent,
  openDatagramClient,
  processAlive,
  registerCleanup,
  serveInBackground,
  tempSocketPath,
  until,
} from '@socketserver/testing'
import { describe, expect, test, vi } from 'vitest'

const fixture = (name: string): URL => new URL(`../fixtures/${name}`, import.meta.url)

/**
 * Serves two loopback servers with one forked() policy, so with the same
 * children: `timed` with `timeoutMs`, `untimed` without. A test sends the
 * request that must time out to `timed` and those that must be served to
 * `untimed`, so that no child start or exchange it relies on races the
 * timeout's clock, however slow this machine. (Each serve() preforks its own
 * children: give the policy `prefork: 0` and let `untimed` start the child.)
 */
async function timedAndUntimed(policy: ForkedPolicy, timeoutMs: number) {
  const timed = await listen('tcp4')
  const untimed = await listen('tcp4')
  return {
    timed,
    timedServing: serveInBackground(timed, null, { policy, timeoutMs }),
    untimed,
    untimedServing: serveInBackground(untimed, null, { policy }),
  }
}

describeHandlerCompliance('forked() echo over stream transports', {
  handler: null,
  transports: ['tcp4', 'unix'],
  policies: { forked: forked({ module: fixture('echo.mjs'), maxChildren: 3 }) },
  exchange: async (client) => {
    await client.send('through a child\n')
    expect(await client.readLine()).toBe('through a child\n')
  },
})

describeDatagramHandlerCompliance('forked() echo over datagram transports', {
  handler: null,
  transports: ['udp4', 'unix-dgram'],
  policies: { forked: forked({ module: fixture('echo.mjs'), maxChildren: 3 }) },
  exchange: async (client) => {
    await client.send('relayed')
    expect((await client.receive()).toString()).toBe('relayed')
  },
})

describe('forked()', () => {
  test('with maxChildren 2 and five long-lived clients, all are served and at most two children run', async () => {
    const server = await listen('tcp4')
    const policy = forked({ module: fixture('echo.mjs'), maxChildren: 2 })
    serveInBackground(server, null, { policy })
    const clients = await Promise.all(Array.from({ length: 5 }, () => connect(server.address)))
    await Promise.all(clients.map((client, i) => client.send(`client ${i}\n`)))
    // Two children busy, so the other three wait unread: the policy stopped pulling.
    await until(() => server.pendingConnections === 3 && policy.pids.length === 2, 10_000, 'two busy children, three waiting')
    let peak = policy.pids.length
    for (const [i, client] of clients.entries()) {
      expect(await client.readLine()).toBe(`client ${i}\n`)
      peak = Math.max(peak, policy.pids.length)
      client.end()
      await client.waitForEnd()
    }
    expect(peak).toBe(2)
  })

  test('with childConcurrency 4, one child serves four long-lived clients at once', async () => {
    const server = await listen('tcp4')
    const policy = forked({ module: fixture('echo.mjs'), maxChildren: 1, childConcurrency: 4 })
    serveInBackground(server, null, { policy })
    const clients = await Promise.all(Array.from({ length: 4 }, () => connect(server.address)))
    // Each client holds its connection open: all four are served together.
    for (const [i, client] of clients.entries()) {
      await client.send(`client ${i}\n`)
      expect(await client.readLine()).toBe(`client ${i}\n`)
    }
    expect(policy.pids).toHaveLength(1)
    // A fifth waits for a free slot, unread, and is served once one frees.
    const fifth = await connect(server.address)
    await fifth.send('fifth\n')
    await until(() => server.pendingConnections === 1, 10_000, 'the fifth client waiting')
    clients[0]?.end()
    expect(await fifth.readLine()).toBe('fifth\n')
    expect(policy.pids).toHaveLength(1)
  })

  test('with childConcurrency 2, a timed-out request is aborted inside its child: the child and its other request live on', async () => {
    const policy = forked({ module: fixture('behaviours.mjs'), maxChildren: 1, childConcurrency: 2, prefork: 0 })
    // Only the hanging request is timed: the child's start and the exchange
    // after the timeout go through a server without a limit.
    const { timed, timedServing, untimed } = await timedAndUntimed(policy, 300)
    const starter = await connect(untimed.address)
    await starter.send('pid\n')
    const pid = Number((await starter.readLine()).split(' ')[0])
    const hanging = await connect(timed.address)
    await hanging.send('hang\n')
    await hanging.waitForEnd()
    await vi.waitFor(() => expect(timedServing.errors).toHaveLength(1), { timeout: 10_000 })
    expect(timedServing.errors[0]).toBeInstanceOf(RequestTimeoutError)
    expect(policy.pids).toEqual([pid])
    const asker = await connect(untimed.address)
    await asker.send('pid\n')
    expect(Number((await asker.readLine()).split(' ')[0])).toBe(pid)
  })

  test('a request that times out while its child is still starting never reaches the child, which then serves the next one', async () => {
    // The child's module finishes loading only when the test opens its start
    // gate, so the request's timeout passes while the child is provably not
    // ready, however fast this machine starts a Node process.
    const gatePath = tempSocketPath('start-gate.sock')
    const starting = new Promise<Socket>((resolve) => {
      const gate = createServer(resolve).listen(gatePath)
      registerCleanup(() => new Promise((closed) => gate.close(closed)))
    })
    const policy = forked({
      module: fixture('gated-start.mjs'),
      maxChildren: 1,
      prefork: 0,
      childConcurrency: 2,
      env: { SS_TEST_START_GATE: gatePath },
    })
    // Only the request that must time out is timed; the next one goes
    // through a server without a limit, so nothing else races the clock.
    const { timed, timedServing, untimed, untimedServing } = await timedAndUntimed(policy, 100)
    const early = await connect(timed.address)
    await early.send('pid\n')
    const child = await starting
    const startingPid = Number(String((await nextEvent(child, 'data'))[0]).trim())
    await early.waitForEnd()
    await vi.waitFor(() => expect(timedServing.errors).toHaveLength(1), { timeout: 10_000 })
    expect(timedServing.errors[0]).toBeInstanceOf(RequestTimeoutError)
    expect(policy.pids).toEqual([startingPid])
    child.end('go')
    // Before, the timed-out request still took a slot once the child was
    // ready and sent it a dead socket, crashing it.
    const next = await connect(untimed.address)
    await next.send('pid\n')
    // The child's first request: the timed-out one never reached it.
    expect(await next.readLine()).toBe(`${startingPid} 1\n`)
    expect(timedServing.errors).toHaveLength(1)
    expect(untimedServing.errors).toEqual([])
  })

  test('with childConcurrency 2, a child that crashes fails both of its requests with WorkerCrashedError', async () => {
    const server = await listen('tcp4')
    const policy = forked({ module: fixture('behaviours.mjs'), maxChildren: 1, childConcurrency: 2 })
    const serving = serveInBackground(server, null, { policy })
    const hanging = await connect(server.address)
    await hanging.send('hang\n')
    await until(() => policy.pids.length === 1 && server.pendingConnections === 0, 10_000, 'the first request in its child')
    const crashing = await connect(server.address)
    await crashing.send('crash\n')
    await Promise.all([hanging.waitForEnd(), crashing.waitForEnd()])
    await vi.waitFor(() => expect(serving.errors).toHaveLength(2), { timeout: 10_000 })
    for (const error of serving.errors) expect(error).toBeInstanceOf(WorkerCrashedError)
  })

  test('a child SIGKILLed mid-request fails that request with WorkerCrashedError; other clients keep being served', async () => {
    const server = await listen('tcp4')
    const policy = forked({ module: fixture('behaviours.mjs'), maxChildren: 2 })
    const serving = serveInBackground(server, null, { policy })
    const hanging = await connect(server.address)
    await hanging.send('hang\n')
    await until(() => policy.pids.length >= 1, 10_000, 'a busy child')
    const asker = await connect(server.address)
    await asker.send('pid\n')
    const [helperPid] = (await asker.readLine()).split(' ').map(Number)
    const victim = policy.pids.find((pid) => pid !== helperPid)
    expect(victim).toBeDefined()
    process.kill(victim as number, 'SIGKILL')
    await hanging.waitForEnd()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1), { timeout: 10_000 })
    expect(serving.errors[0]).toBeInstanceOf(WorkerCrashedError)
    expect(serving.errors[0]).toMatchObject({ signal: 'SIGKILL', exitCode: null })
    const next = await connect(server.address)
    await next.send('still served\n')
    expect(await next.readLine()).toBe('still served\n')
  })

  test('a handler error in the child reaches handleError with the client address, and the child stays usable', async () => {
    const server = await listen('unix')
    const policy = forked({ module: fixture('behaviours.mjs'), maxChildren: 1 })
    const serving = serveInBackground(server, null, { policy })
    const asker = await connect(server.address)
    await asker.send('pid\n')
    const before = (await asker.readLine()).split(' ')[0]
    const thrower = await connect(server.address)
    await thrower.send('throw\n')
    await thrower.waitForEnd()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1), { timeout: 10_000 })
    const error = serving.errors[0] as HandlerError
    expect(error).toBeInstanceOf(HandlerError)
    expect((error.cause as Error).message).toBe('child boom')
    expect(error.clientAddress).toEqual({ transport: 'unix', path: null })
    const again = await connect(server.address)
    await again.send('pid\n')
    expect((await again.readLine()).split(' ')[0]).toBe(before)
  })

  test('a child that hangs past timeoutMs is killed and replaced', async () => {
    const policy = forked({ module: fixture('behaviours.mjs'), maxChildren: 1, prefork: 0 })
    // Only the hanging request is timed: the first child's start, and the
    // replacement's start that the request after the hang waits for (a Node
    // start, of any length), go through a server without a limit.
    const { timed, timedServing, untimed } = await timedAndUntimed(policy, 300)
    const asker = await connect(untimed.address)
    await asker.send('pid\n')
    const hungPid = Number((await asker.readLine()).split(' ')[0])
    // Free the only child, so the next request gets it.
    asker.end()
    await asker.waitForEnd()
    const hanging = await connect(timed.address)
    await hanging.send('hang\n')
    await hanging.waitForEnd()
    await vi.waitFor(() => expect(timedServing.errors).toHaveLength(1), { timeout: 10_000 })
    expect(timedServing.errors[0]).toMatchObject({ timeoutMs: 300 })
    await until(() => !processAlive(hungPid), 10_000, 'the hung child gone')
    const next = await connect(untimed.address)
    await next.send('pid\n')
    expect(Number((await next.readLine()).split(' ')[0])).not.toBe(hungPid)
  })

  test.each([
    ['fails to parse', 'syntax-error.mjs'],
    ['has no default export', 'no-default.mjs'],
    ['does not exist', 'missing.mjs'],
  ])('a module that %s makes serve() reject with WorkerStartError at start, with no child left', async (_, name) => {
    const server = await listen('tcp4')
    const policy = forked({ module: fixture(name) })
    await expect(serve(server, null, { policy })).rejects.toBeInstanceOf(WorkerStartError)
    expect(policy.pids).toEqual([])
    expect(server.closed).toBe(true)
  })

  test('stopping ends a connection idle in a child at once (#16), then no child process remains (asked of the OS)', async () => {
    const server = await listen('tcp4')
    const policy = forked({ module: fixture('echo.mjs'), maxChildren: 3, prefork: 3 })
    const controller = new AbortController()
    const done = serve(server, null, { policy, signal: controller.signal })
    const client = await connect(server.address)
    await client.send('before\n')
    expect(await client.readLine()).toBe('before\n')
    const pids = policy.pids
    expect(pids).toHaveLength(3)
    controller.abort()
    // The child's read waits for the client's next bytes: the stop ends it, and the connection.
    await client.waitForEnd()
    expect(client.error).toBeUndefined()
    await done
    for (const pid of pids) expect(processAlive(pid)).toBe(false)
  })

  test('with maxRequestsPerChild 1 each request gets a fresh child that sees no state of another', async () => {
    const server = await listen('tcp4')
    serveInBackground(server, null, { policy: forked({ module: fixture('behaviours.mjs'), maxRequestsPerChild: 1 }) })
    const pids = new Set<string>()
    for (let i = 0; i < 3; i++) {
      const client = await connect(server.address)
      await client.send('pid\n')
      const [pid, served] = (await client.readLine()).trim().split(' ')
      expect(served).toBe('1')
      pids.add(pid as string)
    }
    expect(pids.size).toBe(3)
  })

  test('an idle timeout in the child is reported as in this process: RequestTimeoutError, not HandlerError (#16)', async () => {
    const server = await listen('tcp4')
    const serving = serveInBackground(server, null, { policy: forked({ module: fixture('behaviours.mjs'), maxChildren: 1 }) })
    const client = await connect(server.address)
    await client.send('idle\n')
    await client.waitForEnd()
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1), { timeout: 10_000 })
    expect(serving.errors[0]).toBeInstanceOf(RequestTimeoutError)
    expect(serving.errors[0]).toMatchObject({ timeoutMs: 250, code: 'SS_ERR_REQUEST_TIMEOUT' })
  })

  test('relays a datagram handler error and keeps serving datagrams', async () => {
    const server = await listenDatagram('udp4')
    const serving = serveInBackground(server, null, { policy: forked({ module: fixture('behaviours.mjs'), maxChildren: 1 }) })
    const client = await openDatagramClient(server.address)
    await client.send('throw')
    await vi.waitFor(() => expect(serving.errors).toHaveLength(1), { timeout: 10_000 })
    expect(serving.errors[0]).toBeInstanceOf(HandlerError)
    await client.send('back')
    expect((await client.receive()).toString()).toBe('back')
    client.close()
  })
})

describe('forked() and processes it does not own', () => {
  test('a reply a child sends after its handler returned fails with ReplyError SS_ERR_REQUEST_ENDED instead of waiting forever', async () => {
    const outcome = join(mkdtempSync(join(tmpdir(), 'ss-late-')), 'outcome')
    const server = await listenDatagram('udp4')
    const serving = serveInBackground(server, null, {
      policy: forked({ module: fixture('late-reply.mjs'), maxChildren: 1, env: { LATE_REPLY_FILE: outcome } }),
    })
    const client = await openDatagramClient(server.address)
    await client.send('hello')
    await until(() => existsSync(outcome) && readFileSync(outcome, 'utf8') !== '', 10_000, 'the late reply to end')
    expect(readFileSync(outcome, 'utf8')).toBe('SS_ERR_REQUEST_ENDED')
    client.close()
    await serving.stop()
  })

  test('a child that cannot be started (out of descriptors) fails its request with WorkerStartError; the pool starts one for the next', async () => {
    const script = fileURLToPath(fixture('forked-spawn-failure.mjs'))
    const server = spawn('bash', ['-c', `ulimit -n 64 && exec "${process.execPath}" "${script}"`], { stdio: ['ignore', 'pipe', 'inherit'] })
    registerCleanup(() => server.kill('SIGKILL'))
    const lines: string[] = []
    for await (const line of createInterface({ input: server.stdout })) lines.push(line)
    expect(lines[0]).toMatch(/^ERROR HandlerError: .*WorkerStartError: .*could not be started: .*EMFILE/)
    expect(lines.slice(1)).toEqual(['REPLY two', 'DONE'])
  })

  test('when the parent is killed, its children notice the closed channel and exit (no orphans)', async () => {
    const parent = spawn(process.execPath, [fileURLToPath(fixture('forked-parent.mjs'))], { stdio: ['ignore', 'pipe', 'inherit'] })
    registerCleanup(() => parent.kill('SIGKILL'))
    let pids: number[] = []
    for await (const line of createInterface({ input: parent.stdout })) {
      if (line.startsWith('PIDS ')) {
        pids = line.slice(5).split(',').map(Number)
        break
      }
    }
    expect(pids).toHaveLength(2)
    parent.kill('SIGKILL')
    await until(() => pids.every((pid) => !processAlive(pid)), 10_000, 'the orphaned children to exit')
  })

  test('stopping serve() leaves alone a child process it did not start', async () => {
    const unrelated = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    registerCleanup(() => unrelated.kill('SIGKILL'))
    const server = await listen('tcp4')
    const controller = new AbortController()
    const policy = forked({ module: fixture('echo.mjs'), prefork: 2 })
    const done = serve(server, null, { policy, signal: controller.signal })
    const client = await connect(server.address)
    await client.send('hello\n')
    expect(await client.readLine()).toBe('hello\n')
    controller.abort()
    client.end()
    await done
    expect(policy.pids).toEqual([])
    expect(processAlive(unrelated.pid as number)).toBe(true)
  })
})
