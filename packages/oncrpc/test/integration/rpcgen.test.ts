import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { compileRpcl, compileRpclFile, RpcClient, RpclError, rpcHandler } from '@socketserver/oncrpc'
import { listen, listenDatagram, registerCleanup, serveInBackground } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../../../', import.meta.url))
const generatedRoot = fileURLToPath(new URL('../.generated/', import.meta.url))
const KV = join(root, 'examples/key-value/kv.x')
/** The portmapper's own definitions (rpcbind versions 3 and 4), as libtirpc ships them, and other real files of the system. */
const SYSTEM_FILES = [
  '/usr/include/tirpc/rpc/rpcb_prot.x',
  '/usr/include/rpcsvc/mount.x',
  '/usr/include/rpcsvc/nfs_prot.x',
  '/usr/include/rpcsvc/yp.x',
  '/usr/include/rpcsvc/rquota.x',
  '/usr/include/rpcsvc/sm_inter.x',
  '/usr/include/rpcsvc/klm_prot.x',
].filter((file) => existsSync(file))

/** A directory of its own under the package (so the generated module resolves @socketserver/oncrpc). */
function outDir(): string {
  mkdirSync(generatedRoot, { recursive: true })
  const dir = mkdtempSync(join(generatedRoot, 'out-'))
  registerCleanup(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

describe('socketserver rpcgen', () => {
  test('compiles kv.x and real .x files to TypeScript that type-checks', async () => {
    expect(SYSTEM_FILES.length).toBeGreaterThan(0)
    const dir = outDir()
    for (const file of [KV, ...SYSTEM_FILES]) await compileRpclFile(file, dir)
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: join(root, 'tsconfig.base.json'), compilerOptions: { noEmit: true, rootDir: '.' }, include: ['*.ts'] }),
    )
    const tsc = join(root, 'node_modules/.bin/tsc')
    const result = await run(tsc, ['-p', join(dir, 'tsconfig.json')]).catch((error) => error)
    expect(result.stdout ?? '').toBe('')
    const rpcb = readFileSync(join(dir, 'rpcb_prot.ts'), 'utf8')
    expect(rpcb).toContain('RPCBPROC_GETADDR: { number: 3, args: rpcb, result: xdr.string() }')
    expect(rpcb).toContain('RPCBPROC_BCAST: { number: 5,') // = RPCBPROC_CALLIT, a procedure name used as a constant
    expect(rpcb).toContain('export type rp__list = { rpcb_map: rpcb; rpcb_next: rp__list | undefined }')
  })

  test('the generated skeleton and client serve and call the program, over TCP and UDP', async () => {
    const dir = outDir()
    const path = await compileRpclFile(KV, dir)
    const kv = await import(path)
    const store = new Map<string, Uint8Array>()
    const program = kv.implementKV_PROG({
      KV_V1: {
        KV_PUT: ({ key, value }: { key: string; value: Uint8Array }) => {
          store.set(key, value)
          return 'KV_OK'
        },
        KV_GET: (key: string) => (store.has(key) ? { tag: 'KV_OK', value: store.get(key) } : { tag: 'KV_NOT_FOUND', value: undefined }),
        KV_DELETE: (key: string) => store.delete(key),
        KV_LIST: () => undefined,
        KV_COUNT: () => store.size,
        KV_ECHO: (value: Uint8Array) => value,
      },
    })
    const handler = rpcHandler(program)
    const tcp = await listen('tcp4')
    const udp = await listenDatagram('udp4')
    serveInBackground(tcp, handler)
    serveInBackground(udp, handler)
    for (const server of [tcp, udp]) {
      const address = server.address as { transport: 'tcp' | 'udp'; port: number }
      const client = await RpcClient.connect({ transport: address.transport, host: '127.0.0.1', port: address.port })
      registerCleanup(() => client.close())
      const calls = kv.KV_V1_client(client)
      expect(await calls.KV_PUT({ key: address.transport, value: Uint8Array.of(1) })).toBe('KV_OK')
      expect((await calls.KV_GET(address.transport)).tag).toBe('KV_OK')
      await expect(calls.KV_PUT({ key: 'x'.repeat(257), value: Uint8Array.of() })).rejects.toThrow(/at most 256/)
    }
    expect(
      await kv
        .KV_V1_client(await RpcClient.connect({ transport: 'tcp', host: '127.0.0.1', port: (tcp.address as { port: number }).port }))
        .KV_COUNT(),
    ).toBe(2)
    expect([kv.KV_MAX_KEY, kv.KV_PUT, kv.KV_V1, kv.KV_PROG.number]).toEqual([256, 1, 1, 0x2000_0101])
  })

  test('--js writes a module that runs without types', async () => {
    const dir = outDir()
    const path = await compileRpclFile(KV, dir, { language: 'js' })
    expect(path.endsWith('kv.js')).toBe(true)
    const source = readFileSync(path, 'utf8')
    expect(source).not.toMatch(/XdrType<|: RpcClient|^export type /m)
    const kv = await import(path)
    expect(kv.kv_entry.name).toBe('struct { string<256> key; opaque<65536> value; }')
  })

  test('the RPC language: enums without values, unions over ints and bools, several arguments, #define and #ifdef', () => {
    const out = compileRpcl(
      `
      #define LIMIT 4
      #ifdef NOT_DEFINED
      const GONE = 1;
      #else
      const KEPT = LIMIT;
      #endif
      enum colour { RED, GREEN = 5, BLUE };
      union by_int switch (int kind) { case 1: case 2: int small; case KEPT: hyper big; default: void; };
      union by_bool switch (bool present) { case TRUE: string text<LIMIT>; case FALSE: void; };
      struct tree { int value; tree children<>; tree *parent; unsigned short flags; };
      program P { version V { int ADD(int, int) = 1; string NAME(void) = 2; } = 1; } = 0x20000099;
      `,
      { fileName: 'lang.x' },
    )
    expect(out).toContain('export const KEPT = 4')
    expect(out).not.toContain('GONE')
    expect(out).toContain('xdr.enumeration({ RED: 0, GREEN: 5, BLUE: 6 })')
    expect(out).toContain('xdr.union(xdr.int, { 1: xdr.int, 2: xdr.int, 4: xdr.hyper }, xdr.void)')
    expect(out).toContain('xdr.union(xdr.bool, { true: xdr.string(LIMIT), false: xdr.void })')
    expect(out).toContain('children: xdr.varArray(xdr.lazy(() => tree)), parent: xdr.optional(xdr.lazy(() => tree)), flags: xdr.unsigned')
    expect(out).toContain('ADD: { number: 1, args: xdr.struct({ arg1: xdr.int, arg2: xdr.int }), result: xdr.int }')
    expect(out).toContain('NAME: { number: 2, args: xdr.void, result: xdr.string() }')
  })

  test('enum members after a constant, negative cases, unions in place, two programs with one version name: type-checked', async () => {
    const dir = outDir()
    writeFileSync(
      join(dir, 'edge.x'),
      `const FOO = 10;
      enum e1 { A = FOO, B, C };
      union neg switch (int n) { case -1: void; case 1: int one; };
      struct holder { union switch (bool set) { case TRUE: int value; case FALSE: void; } maybe; };
      program P1 { version VERS { int F(e1) = 1; } = 1; } = 0x20000201;
      program P2 { version VERS { neg G(holder) = 1; } = 2; } = 0x20000202;`,
    )
    const path = await compileRpclFile(join(dir, 'edge.x'), dir)
    const source = readFileSync(path, 'utf8')
    expect(source).toContain('xdr.enumeration({ A: 10, B: 11, C: 12 })')
    expect(source).toContain("xdr.union(xdr.int, { '-1': xdr.void, 1: xdr.int })")
    expect(source).toContain('export function VERS_client(')
    expect(source).toContain('export function P2_VERS_client(')
    expect(source).toContain('// VERS is 2 in P2; the VERS above is 1')
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: join(root, 'tsconfig.base.json'), compilerOptions: { noEmit: true, rootDir: '.' }, include: ['*.ts'] }),
    )
    const result = await run(join(root, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json')]).catch((error) => error)
    expect(result.stdout ?? '').toBe('')
    const edge = await import(path)
    const { decode, encode } = await import('@socketserver/oncrpc')
    expect(decode(edge.neg, encode(edge.neg, { tag: -1, value: undefined }))).toEqual({ tag: -1, value: undefined })
    expect([...encode(edge.e1, 'B')]).toEqual([0, 0, 0, 11])
  })

  test.each([
    ['struct s { int; };', 'bad.x:1:15: expected a name, found ;'],
    ['typedef quadruple q;', 'bad.x:1:9: quadruple (128-bit floating point) has no TypeScript type'],
    ['struct s { missing m; };', 'bad.x:1:12: the type missing is not defined in this file'],
    ['typedef string s;', 'bad.x:1:9: string s needs a bound: string s<> or <N>'],
    ['typedef int a[N];', 'bad.x:1:15: N is not a constant defined in this file'],
    ['const A = B; const B = A; typedef int x[A];', 'is defined in terms of itself'],
    ['/* open', 'bad.x:1:1: a comment is not closed'],
  ])('%s is refused: %s', (source, message) => {
    expect(() => compileRpcl(source, { fileName: 'bad.x' })).toThrow(RpclError)
    expect(() => compileRpcl(source, { fileName: 'bad.x' })).toThrow(message)
  })
})
