import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BindError, bindSharedSocket, InvalidOptionError, TCPServer } from '@socketserver/core'
import { CrashLoopError, Supervisor, type SupervisorEvent, WorkerNotReadyError } from '@socketserver/supervisor'
import { openDatagramClient, processAlive, registerCleanup, until } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

const WORKER = fileURLToPath(new URL('../fixtures/worker.mjs', import.meta.url))

function pidFrom(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    let text = ''
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString()
    })
    socket.on('end', () => resolve(Number(text)))
    socket.on('error', reject)
  })
}

describe('Supervisor', () => {
  test('binds each listener once, runs the workers on them, restarts them one by one, and stops them all', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ss-supervisor-')), 'workers.sock')
    const events: SupervisorEvent[] = []
    const supervisor = await Supervisor.start({
      command: [process.execPath, WORKER],
      listeners: [
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
        { transport: 'unix', path },
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'unix-dgram', path: `${path}.dgram` },
      ],
      processes: 2,
      onEvent: (event) => events.push(event),
    })
    registerCleanup(() => supervisor.stop())
    const [tcp, unix, udp] = supervisor.addresses as unknown as [{ port: number }, { path: string }, { host: string; port: number }]
    expect(tcp.port).toBeGreaterThan(0)
    expect(unix.path).toBe(path)
    const first = supervisor.pids
    expect(first).toHaveLength(2)
    expect(
      events
        .filter((event) => event.type === 'ready')
        .map((event) => event.pid)
        .sort(),
    ).toEqual([...first].sort())
    expect(first).toContain(await pidFrom(tcp.port))
    const datagrams = await openDatagramClient({ transport: 'udp', host: udp.host, port: udp.port, family: 'IPv4' })
    registerCleanup(() => datagrams.close())
    await datagrams.send('who')
    expect(first).toContain(Number(Buffer.from(await datagrams.receive(10_000)).toString()))
    // The Unix datagram listener is relayed: answered by the workers, round-robin.
    const relayed = await openDatagramClient({ transport: 'unix-dgram', path: `${path}.dgram` })
    registerCleanup(() => relayed.close())
    const answeredBy = new Set<number>()
    for (let i = 0; i < 4; i++) {
      await relayed.send('who')
      answeredBy.add(Number(Buffer.from(await relayed.receive(10_000)).toString()))
    }
    expect([...answeredBy].sort()).toEqual([...first].sort())

    await supervisor.restart()
    const second = supervisor.pids
    expect(second).toHaveLength(2)
    expect(second.some((pid) => first.includes(pid))).toBe(false)
    expect(second).toContain(await pidFrom(tcp.port))
    expect(events.filter((event) => event.type === 'crashed')).toEqual([])

    await supervisor.stop()
    await supervisor.done
    await until(() => [...first, ...second].every((pid) => !processAlive(pid)), 5_000, 'every worker to exit')
    expect(existsSync(path)).toBe(false)
    expect(existsSync(`${path}.dgram`)).toBe(false)
    // Every listener is closed: the port can be bound again.
    const again = await TCPServer.listen({ host: '127.0.0.1', port: tcp.port })
    await again.close()
  })

  test('a worker that cannot serve fails the start with WorkerNotReadyError, and the listeners are closed again', async () => {
    const shared = { transport: 'tcp' as const, host: '127.0.0.1', port: 0 }
    const probe = await bindSharedSocket(shared)
    const port = (probe.address as { port: number }).port
    probe.close()
    await expect(
      Supervisor.start({
        command: [process.execPath, WORKER],
        listeners: [{ ...shared, port }],
        processes: 2,
        env: { WORKER_FAIL: '1' },
      }),
    ).rejects.toThrow(WorkerNotReadyError)
    const again = await TCPServer.listen({ host: '127.0.0.1', port })
    await again.close()
  })

  test('a rolling restart whose new worker dies before it is ready rejects, and the old workers keep serving (no crash loop, no extra worker)', async () => {
    const flag = join(mkdtempSync(join(tmpdir(), 'ss-supervisor-flag-')), 'die')
    const supervisor = await Supervisor.start({
      command: [process.execPath, WORKER],
      listeners: [{ transport: 'tcp', host: '127.0.0.1', port: 0 }],
      processes: 2,
      env: { WORKER_DIE_IF: flag },
      maxCrashes: 2,
    })
    registerCleanup(() => supervisor.stop())
    const old = supervisor.pids
    writeFileSync(flag, '')
    await expect(supervisor.restart()).rejects.toThrow(/exited with code 3 before it was ready/)
    expect(supervisor.pids.sort()).toEqual([...old].sort())
    const port = (supervisor.addresses[0] as { port: number }).port
    expect(old).toContain(await pidFrom(port))
    rmSync(flag)
    // A worker that crashes during a restart is replaced once: still two workers after it.
    const restarting = supervisor.restart()
    process.kill(old[0] as number, 'SIGKILL')
    await restarting.catch(() => {})
    await until(() => supervisor.pids.length === 2 && !supervisor.pids.some((pid) => old.includes(pid)), 20_000, 'two new workers')
    await supervisor.stop()
    await supervisor.done
  })

  test('workers that keep crashing reject done with CrashLoopError; stop() still resolves', async () => {
    const flag = join(mkdtempSync(join(tmpdir(), 'ss-supervisor-loop-')), 'die')
    const supervisor = await Supervisor.start({
      command: [process.execPath, WORKER],
      listeners: [{ transport: 'tcp', host: '127.0.0.1', port: 0 }],
      processes: 1,
      env: { WORKER_DIE_IF: flag },
      maxCrashes: 3,
    })
    writeFileSync(flag, '')
    // Its replacements die before they are ready: crashes too.
    process.kill(supervisor.pids[0] as number, 'SIGKILL')
    await expect(supervisor.done).rejects.toThrow(CrashLoopError)
    await supervisor.stop()
    expect(supervisor.pids).toEqual([])
  })

  test('bad options are refused naming the option', async () => {
    const listeners = [{ transport: 'tcp' as const, host: '127.0.0.1', port: 0 }]
    await expect(Supervisor.start({ command: [], listeners, processes: 1 })).rejects.toThrow(InvalidOptionError)
    await expect(Supervisor.start({ command: [process.execPath, WORKER], listeners, processes: 0 })).rejects.toThrow(
      /expected a whole number of 1 or more/,
    )
    await expect(
      Supervisor.start({ command: [process.execPath, WORKER], listeners: 'tcp' as unknown as [], processes: 1 }),
    ).rejects.toThrow(/without a list of listeners/)
  })
})

describe('bindSharedSocket()', () => {
  test('an address in use is a BindError with its code; a Unix datagram socket cannot be shared', async () => {
    const taken = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
    registerCleanup(() => taken.close())
    const error = await bindSharedSocket({ transport: 'tcp', host: '127.0.0.1', port: (taken.address as { port: number }).port }).catch(
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(BindError)
    expect((error as BindError).code).toBe('EADDRINUSE')
    await expect(bindSharedSocket({ transport: 'unix-dgram', path: '/tmp/x.sock' } as never)).rejects.toThrow(InvalidOptionError)
  })
})
