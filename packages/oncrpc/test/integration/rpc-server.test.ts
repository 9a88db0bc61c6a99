import { execFile } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { promisify } from 'node:util'
import { forked, pooled, type SocketAddress, sequential } from '@socketserver/core'
import {
  IncompleteRecordError,
  markRecord,
  programClient,
  RecordTooLargeError,
  RpcClient,
  type RpcReplyError,
  rpcHandler,
  sysCredential,
  XdrWriter,
  xdr,
} from '@socketserver/oncrpc'
import { connect, listen, listenDatagram, openDatagramClient, registerCleanup, serveInBackground, until } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'
import { Calculator, calculator } from '../fixtures/calculator.mjs'

const run = promisify(execFile)

/** A call message by hand, for what a well-behaved client never sends. */
function rawCall(
  fields: { xid: number; rpcVersion?: number; procedure: number; version?: number; program?: number; credential?: [number, Uint8Array] },
  args = new Uint8Array(0),
): Uint8Array {
  const writer = new XdrWriter()
  writer.uint32(fields.xid)
  writer.uint32(0)
  writer.uint32(fields.rpcVersion ?? 2)
  writer.uint32(fields.program ?? Calculator.number)
  writer.uint32(fields.version ?? 1)
  writer.uint32(fields.procedure)
  const [flavor, body] = fields.credential ?? [0, new Uint8Array(0)]
  writer.uint32(flavor)
  writer.uint32(body.length)
  writer.bytes(body)
  writer.uint32(0)
  writer.uint32(0)
  writer.bytes(args)
  return writer.result().slice()
}

function words(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return Array.from({ length: bytes.length >> 2 }, (_, i) => view.getUint32(i * 4))
}

/** Reads one record-marked reply from a loopback client. */
async function readRecord(client: Awaited<ReturnType<typeof connect>>): Promise<number[]> {
  const header = await client.readBytes(4)
  return words(await client.readBytes(header.readUInt32BE(0) & 0x7fff_ffff))
}

async function serveCalculator(
  transport: 'tcp4' | 'tcp6' | 'unix' | 'udp4' | 'unix-dgram',
  options: Parameters<typeof rpcHandler>[1] = {},
) {
  const calc = calculator()
  const reported: Error[] = []
  const handler = rpcHandler(calc.program, { onError: (error) => reported.push(error), ...options })
  const server = transport === 'udp4' || transport === 'unix-dgram' ? await listenDatagram(transport) : await listen(transport)
  const serving = serveInBackground(server, handler)
  return { ...calc, server, serving, reported, handler, address: server.address as SocketAddress }
}

function clientOptions(address: SocketAddress) {
  if ('path' in address) return { transport: 'unix' as const, path: address.path as string }
  return { transport: address.transport, host: address.host, port: address.port }
}

describe.each(['tcp4', 'tcp6', 'unix', 'udp4'] as const)('an RPC program over %s', (transport) => {
  test('answers calls, NULL, and every kind of failure', async () => {
    const { address, reported } = await serveCalculator(transport)
    const client = await RpcClient.connect(clientOptions(address))
    registerCleanup(() => client.close())
    const calc = programClient(client, Calculator, 'CALC_V1')
    expect(await calc.ADD({ a: 2, b: 40 })).toBe(42)
    expect(await calc.ECHO('hello')).toBe('hello')
    expect(await client.call(Calculator.number, 3, { number: 0, args: xdr.void, result: xdr.void }, undefined)).toBeUndefined()
    expect(await programClient(client, Calculator, 'CALC_V3').NEGATE(5)).toBe(-5)

    const failure = (promise: Promise<unknown>) =>
      promise.then(
        () => undefined,
        (error: RpcReplyError) => error,
      )
    expect((await failure(client.call(0x2000_0043, 1, { number: 0, args: xdr.void, result: xdr.void }, undefined)))?.failure).toBe(
      'PROG_UNAVAIL',
    )
    const mismatch = await failure(client.call(Calculator.number, 2, { number: 0, args: xdr.void, result: xdr.void }, undefined))
    expect([mismatch?.failure, mismatch?.versions]).toEqual(['PROG_MISMATCH', { low: 1, high: 3 }])
    expect((await failure(client.call(Calculator.number, 1, { number: 99, args: xdr.void, result: xdr.void }, undefined)))?.failure).toBe(
      'PROC_UNAVAIL',
    )
    // ADD with a string where two ints belong: three words that do not decode as the pair.
    expect((await failure(client.call(Calculator.number, 1, { number: 1, args: xdr.int, result: xdr.int }, 7)))?.failure).toBe(
      'GARBAGE_ARGS',
    )
    expect((await failure(calc.FAIL(undefined)))?.failure).toBe('SYSTEM_ERR')
    expect((await failure(calc.WRONG(undefined)))?.failure).toBe('SYSTEM_ERR')
    const denied = await failure(calc.WHOAMI(undefined))
    expect([denied?.failure, denied?.authStatus]).toEqual(['AUTH_ERROR', 'AUTH_TOOWEAK'])
    expect(reported.map((error) => error.message)).toEqual([
      'FAIL always fails',
      expect.stringMatching(/^The result of WRONG cannot be sent: Cannot encode "not an int" as int/),
    ])
    // Still serving after all of that.
    expect(await calc.ADD({ a: -1, b: 1 })).toBe(0)
  })

  test('reads AUTH_SYS credentials', async () => {
    const { address } = await serveCalculator(transport)
    const client = await RpcClient.connect({
      ...clientOptions(address),
      credential: sysCredential({ uid: 1234, gid: 56, gids: [1, 2], machineName: 'tester' }),
    })
    registerCleanup(() => client.close())
    expect(await programClient(client, Calculator, 'CALC_V1').WHOAMI(undefined)).toEqual({ uid: 1234, gid: 56, machine: 'tester' })
  })
})

describe('RPC over a stream connection', () => {
  test('answers calls in flight as they finish, matched by xid', async () => {
    const { address, whenHeld, release } = await serveCalculator('tcp4')
    const client = await RpcClient.connect(clientOptions(address))
    registerCleanup(() => client.close())
    const calc = programClient(client, Calculator, 'CALC_V1')
    const order: string[] = []
    const first = calc.HOLD('first').then((name) => order.push(name))
    const second = calc.HOLD('second').then((name) => order.push(name))
    await whenHeld('first', 'second')
    expect(await calc.ADD({ a: 1, b: 1 })).toBe(2) // not stuck behind the two held calls
    release('second')
    await second
    release('first')
    await first
    expect(order).toEqual(['second', 'first'])
  })

  test('answers a multi-fragment record, and pipelined records in one write', async () => {
    const { address } = await serveCalculator('tcp4')
    const client = await connect(address)
    const call = rawCall({ xid: 7, procedure: 1 }, Uint8Array.of(0, 0, 0, 2, 0, 0, 0, 3))
    const wire = Buffer.alloc(call.length + 8)
    wire.writeUInt32BE(10, 0) // the first 10 bytes, not the last fragment
    Buffer.from(call.subarray(0, 10)).copy(wire, 4)
    wire.writeUInt32BE((0x8000_0000 | (call.length - 10)) >>> 0, 14)
    Buffer.from(call.subarray(10)).copy(wire, 18)
    await client.send(Buffer.concat([wire, markRecord(rawCall({ xid: 8, procedure: 0 }))]))
    expect(await readRecord(client)).toEqual([7, 1, 0, 0, 0, 0, 5])
    expect(await readRecord(client)).toEqual([8, 1, 0, 0, 0, 0])
  })

  test('refuses RPC version 3 and credentials it cannot read, and drops what is not a call', async () => {
    const { address, reported } = await serveCalculator('unix')
    const client = await connect(address)
    await client.send(markRecord(rawCall({ xid: 1, procedure: 0, rpcVersion: 3 })))
    expect(await readRecord(client)).toEqual([1, 1, 1, 0, 2, 2]) // MSG_DENIED, RPC_MISMATCH 2..2
    await client.send(markRecord(rawCall({ xid: 2, procedure: 0, credential: [1, Uint8Array.of(0, 0, 0, 1)] })))
    expect(await readRecord(client)).toEqual([2, 1, 1, 1, 1]) // AUTH_ERROR, AUTH_BADCRED
    await client.send(markRecord(rawCall({ xid: 3, procedure: 0, credential: [6, Uint8Array.of(1, 2, 3, 4)] })))
    expect(await readRecord(client)).toEqual([3, 1, 1, 1, 2]) // AUTH_REJECTEDCRED (RPCSEC_GSS is not spoken)
    await client.send(Buffer.concat([markRecord(Uint8Array.of(1, 2, 3)), markRecord(rawCall({ xid: 4, procedure: 0 }).subarray(0, 20))]))
    await client.send(markRecord(rawCall({ xid: 5, procedure: 0 })))
    expect(await readRecord(client)).toEqual([5, 1, 0, 0, 0, 0])
    expect(reported.map((error) => error.message)).toEqual([
      'Cannot read an RPC call: 3 bytes, too few for a header',
      expect.stringMatching(/^Cannot read an RPC call: xid 4: Cannot decode/),
    ])
  })

  test('a record over the maximum closes the connection after the replies before it', async () => {
    const { address, serving, whenHeld, release } = await serveCalculator('tcp4', { maxRecordSize: 1024 })
    const client = await connect(address)
    await client.send(markRecord(rawCall({ xid: 1, procedure: 4 }, Uint8Array.of(0, 0, 0, 1, 0x61, 0, 0, 0))))
    await whenHeld('a')
    await client.send(Uint8Array.of(0x80, 0, 0x10, 0)) // a 4 KiB record announced
    release('a')
    expect(await readRecord(client)).toEqual([1, 1, 0, 0, 0, 0, 1, 0x6100_0000])
    await client.waitForEnd()
    await until(() => serving.errors.length === 1)
    expect((serving.errors[0] as Error).cause).toBeInstanceOf(RecordTooLargeError)
  })

  test('a connection that ends inside a record is reported', async () => {
    const { address, serving } = await serveCalculator('tcp4')
    const client = await connect(address)
    await client.send(markRecord(rawCall({ xid: 1, procedure: 0 })).subarray(0, 10))
    client.end()
    await client.waitForEnd()
    await until(() => serving.errors.length === 1)
    expect((serving.errors[0] as Error).cause).toBeInstanceOf(IncompleteRecordError)
  })

  test('a client that sends half a record and stalls is cut off by timeoutMs; others are served', async () => {
    const calc = calculator()
    const server = await listen('tcp4')
    const serving = serveInBackground(server, rpcHandler(calc.program), { timeoutMs: 300 })
    const staller = await connect(server.address)
    await staller.send(markRecord(rawCall({ xid: 1, procedure: 0 })).subarray(0, 12))
    const client = await RpcClient.connect(clientOptions(server.address))
    registerCleanup(() => client.close())
    expect(await programClient(client, Calculator, 'CALC_V1').ADD({ a: 1, b: 2 })).toBe(3)
    await staller.waitForEnd()
    await until(() => serving.errors.length >= 1)
    expect((serving.errors[0] as Error).name).toBe('RequestTimeoutError')
  })

  test('stops reading past maxCallsInFlight, and reads on as calls finish', async () => {
    const calc = calculator()
    const held = calc.whenHeld
    const server = await listen('tcp4')
    serveInBackground(server, rpcHandler(calc.program, { maxCallsInFlight: 2 }))
    const client = await RpcClient.connect(clientOptions(server.address))
    const other = await RpcClient.connect(clientOptions(server.address))
    registerCleanup(() => Promise.all([client.close(), other.close()]))
    const calc1 = programClient(client, Calculator, 'CALC_V1')
    const calls = [calc1.HOLD('a'), calc1.HOLD('b'), calc1.HOLD('c')]
    await held('a', 'b')
    // A round trip on another connection: the server has had the third call's bytes for a while, and left them unread.
    expect(await programClient(other, Calculator, 'CALC_V1').ADD({ a: 1, b: 1 })).toBe(2)
    let cHeld = false
    void held('c').then(() => {
      cHeld = true
    })
    await Promise.resolve()
    expect(cHeld).toBe(false)
    calc.release('a')
    await held('c')
    calc.release('b')
    calc.release('c')
    expect(await Promise.all(calls)).toEqual(['a', 'b', 'c'])
  })

  test('a client that resets while replies wait for the socket to drain ends its connection at once', async () => {
    const { address, serving } = await serveCalculator('tcp4')
    const client = await connect(address)
    // 8 MiB back, which the client never reads: the reply waits for 'drain'; then one more call, then a reset.
    await client.send(markRecord(rawCall({ xid: 1, procedure: 9 }, Uint8Array.of(0, 0x80, 0, 0))))
    await client.send(markRecord(rawCall({ xid: 2, procedure: 0 })))
    client.reset()
    await until(() => serving.errors.length === 1, 5_000, 'the connection to end')
    expect((serving.errors[0] as Error).name).toBe('ClientDisconnectedError')
  })

  test('arguments nested deeper than the stack are GARBAGE_ARGS, and the server keeps serving', async () => {
    const { address } = await serveCalculator('tcp4')
    const client = await connect(address)
    const depth = 200_000
    // Each link: its value, then TRUE for a next one (FALSE after the last).
    const args = Buffer.alloc(depth * 8)
    for (let i = 0; i < depth; i++) {
      args.writeUInt32BE(i, i * 8)
      args.writeUInt32BE(i === depth - 1 ? 0 : 1, i * 8 + 4)
    }
    await client.send(markRecord(rawCall({ xid: 3, procedure: 10 }, args)))
    expect(await readRecord(client)).toEqual([3, 1, 0, 0, 0, 4])
    await client.send(markRecord(rawCall({ xid: 4, procedure: 10 }, Uint8Array.of(0, 0, 0, 7, 0, 0, 0, 0))))
    expect(await readRecord(client)).toEqual([4, 1, 0, 0, 0, 0, 1])
  })

  test('ten thousand random records: no crash, the server keeps serving', async () => {
    const { address, reported } = await serveCalculator('tcp4')
    const client = await connect(address)
    let seed = 12345
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fff_ffff
      return seed
    }
    const records: Buffer[] = []
    for (let i = 0; i < 10_000; i++) {
      const bytes = Buffer.alloc(random() % 64)
      for (let j = 0; j < bytes.length; j++) bytes[j] = random() & 0xff
      // Half of them start like a call, so that they reach the argument decoding.
      if (i % 2 === 0 && bytes.length >= 24) {
        bytes.writeUInt32BE(0, 4)
        bytes.writeUInt32BE(2, 8)
        bytes.writeUInt32BE(Calculator.number, 12)
        bytes.writeUInt32BE(1, 16)
        bytes.writeUInt32BE(random() % 9, 20)
      }
      records.push(markRecord(bytes))
    }
    await client.send(Buffer.concat(records))
    await client.send(markRecord(rawCall({ xid: 0xabcd, procedure: 1 }, Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 1))))
    await until(() => client.buffered.includes(Buffer.from([0, 0, 0xab, 0xcd, 0, 0, 0, 1])), 10_000)
    expect(reported.length).toBeGreaterThan(0)
    expect(process.memoryUsage().heapUsed).toBeLessThan(1024 * 1024 * 1024)
  })
})

describe('RPC over datagrams', () => {
  test('a retransmitted call is answered from the duplicate request cache, not run again', async () => {
    const { address, state, handler } = await serveCalculator('udp4')
    const socket = createSocket('udp4')
    registerCleanup(() => socket.close())
    const replies: Buffer[] = []
    socket.on('message', (message) => replies.push(message))
    const count = rawCall({ xid: 77, procedure: 3 })
    const target = address as { port: number; host: string }
    for (let i = 0; i < 3; i++) socket.send(count, target.port, target.host)
    await until(() => replies.length === 3)
    expect(replies.map((reply) => words(reply))).toEqual([
      [77, 1, 0, 0, 0, 0, 1],
      [77, 1, 0, 0, 0, 0, 1],
      [77, 1, 0, 0, 0, 0, 1],
    ])
    expect(state.counted).toBe(1)
    expect(handler.duplicateCache?.hits).toBe(2)
    socket.send(rawCall({ xid: 78, procedure: 3 }), target.port, target.host)
    await until(() => replies.length === 4)
    expect(words(replies[3] as Buffer)).toEqual([78, 1, 0, 0, 0, 0, 2])
  })

  test('without the cache, each copy runs', async () => {
    const { address, state } = await serveCalculator('udp4', { duplicateCache: false })
    const client = await RpcClient.connect(clientOptions(address))
    registerCleanup(() => client.close())
    const calc = programClient(client, Calculator, 'CALC_V1')
    await calc.COUNT(undefined)
    await calc.COUNT(undefined)
    expect(state.counted).toBe(2)
  })

  test('the client retransmits a call whose datagram was lost', async () => {
    // A "server" that ignores the first copy of each call and relays the second to the real one.
    const { address } = await serveCalculator('udp4')
    const target = address as { port: number; host: string }
    const lossy = createSocket('udp4')
    const upstream = createSocket('udp4')
    registerCleanup(() => lossy.close())
    registerCleanup(() => upstream.close())
    const seen = new Set<string>()
    let client: { port: number; address: string } | undefined
    lossy.on('message', (message, from) => {
      client = from
      const key = message.subarray(0, 4).toString('hex')
      if (!seen.has(key)) {
        seen.add(key)
        return
      }
      upstream.send(message, target.port, target.host)
    })
    upstream.on('message', (message) => {
      if (client) lossy.send(message, client.port, client.address)
    })
    await new Promise<void>((resolve) => lossy.bind(0, '127.0.0.1', resolve))
    const rpc = await RpcClient.connect({ transport: 'udp', host: '127.0.0.1', port: lossy.address().port, retransmitMs: 50 })
    registerCleanup(() => rpc.close())
    expect(await programClient(rpc, Calculator, 'CALC_V1').ADD({ a: 3, b: 4 })).toBe(7)
  })

  test('over a Unix datagram socket', async () => {
    const { address } = await serveCalculator('unix-dgram')
    const client = await openDatagramClient(address, { bind: true })
    registerCleanup(() => client.close())
    await client.send(rawCall({ xid: 9, procedure: 1 }, Uint8Array.of(0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff)))
    expect(words(await client.receive())).toEqual([9, 1, 0, 0, 0, 0, 4])
  })
})

describe('RPC under every policy', () => {
  test('sequential(): one request at a time, TCP and UDP served side by side', async () => {
    const calc = calculator()
    const handler = rpcHandler(calc.program)
    const tcp = await listen('tcp4')
    const udp = await listenDatagram('udp4')
    serveInBackground(tcp, handler, { policy: sequential() })
    serveInBackground(udp, handler, { policy: sequential() })
    for (const server of [tcp, udp]) {
      const client = await RpcClient.connect(clientOptions(server.address))
      registerCleanup(() => client.close())
      const calls = programClient(client, Calculator, 'CALC_V1')
      expect(await Promise.all([calls.ADD({ a: 1, b: 1 }), calls.ECHO('seq'), calls.COUNT(undefined)])).toEqual([
        2,
        'seq',
        expect.any(Number),
      ])
    }
    expect(calc.state.counted).toBe(2)
  })

  test('pooled(): calls of many connections at once', async () => {
    const calc = calculator()
    const server = await listen('tcp4')
    serveInBackground(server, rpcHandler(calc.program), { policy: pooled({ concurrency: 8 }) })
    const clients = await Promise.all(Array.from({ length: 8 }, () => RpcClient.connect(clientOptions(server.address))))
    registerCleanup(() => Promise.all(clients.map((client) => client.close())))
    const sums = await Promise.all(clients.map((client, i) => programClient(client, Calculator, 'CALC_V1').ADD({ a: i, b: i })))
    expect(sums).toEqual([0, 2, 4, 6, 8, 10, 12, 14])
  })

  test('forked(): each connection served in a child', async () => {
    const server = await listen('tcp4')
    const udp = await listenDatagram('udp4')
    const policy = forked({ module: new URL('../fixtures/calculator-child.mjs', import.meta.url), maxChildren: 2 })
    serveInBackground(server, null, { policy })
    serveInBackground(udp, null, {
      policy: forked({ module: new URL('../fixtures/calculator-child.mjs', import.meta.url), maxChildren: 2 }),
    })
    for (const address of [server.address, udp.address]) {
      const client = await RpcClient.connect(clientOptions(address))
      registerCleanup(() => client.close())
      const calc = programClient(client, Calculator, 'CALC_V1')
      expect(await calc.ADD({ a: 1, b: 2 })).toBe(3)
      expect(await calc.PID(undefined)).not.toBe(process.pid)
    }
  })
})

describe('rpcinfo (libtirpc) calls our server directly', () => {
  test.each(['tcp', 'udp'] as const)('over %s', async (netid) => {
    const { address } = await serveCalculator(netid === 'tcp' ? 'tcp4' : 'udp4')
    const port = (address as { port: number }).port
    const universal = `127.0.0.1.${port >> 8}.${port & 0xff}`
    // rpcinfo tries every version from the lowest to the highest, and exits 1 for the missing version 2.
    const all = await run('rpcinfo', ['-a', universal, '-T', netid, String(Calculator.number)]).catch((error) => error)
    expect(all.stdout).toBe(
      `program ${Calculator.number} version 1 ready and waiting\nprogram ${Calculator.number} version 2 is not available\nprogram ${Calculator.number} version 3 ready and waiting\n`,
    )
    expect((await run('rpcinfo', ['-a', universal, '-T', netid, String(Calculator.number), '3'])).stdout).toContain(
      'version 3 ready and waiting',
    )
    const missing = await run('rpcinfo', ['-a', universal, '-T', netid, String(Calculator.number + 1), '1']).catch((error) => error)
    expect(missing.stdout).toContain('is not available')
  })
})
