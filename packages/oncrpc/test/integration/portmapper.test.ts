import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  PMAP_PROGRAM,
  Portmapper,
  PortmapperError,
  portmapper,
  programClient,
  RpcClient,
  type RpcReplyError,
  registerWithPortmapper,
  rpcHandler,
  sysCredential,
} from '@socketserver/oncrpc'
import {
  hasNetworkNamespaces,
  listen,
  listenDatagram,
  registerCleanup,
  serveInBackground,
  spawnInNetworkNamespace,
  until,
} from '@socketserver/testing'
import { describe, expect, test } from 'vitest'
import { Calculator, calculator } from '../fixtures/calculator.mjs'

const host = fileURLToPath(new URL('../fixtures/portmap-host.mjs', import.meta.url))
const calcNumber = String(Calculator.number)

async function startPortmapper() {
  const pmap = portmapper()
  const tcp = await listen('tcp4')
  const udp = await listenDatagram('udp4')
  pmap.registerSelf([tcp, udp])
  const handler = rpcHandler(pmap.program)
  serveInBackground(tcp, handler)
  serveInBackground(udp, handler)
  const port = (tcp.address as { port: number }).port
  const client = await RpcClient.connect({ transport: 'tcp', host: '127.0.0.1', port })
  registerCleanup(() => client.close())
  return {
    pmap,
    tcp,
    udp,
    v2: programClient(client, Portmapper, 'PMAP_VERS'),
    v3: programClient(client, Portmapper, 'RPCBVERS'),
    v4: programClient(client, Portmapper, 'RPCBVERS4'),
    client,
  }
}

const rpcb = (prog: number, vers: number, netid: string, addr = '') => ({
  r_prog: prog,
  r_vers: vers,
  r_netid: netid,
  r_addr: addr,
  r_owner: '',
})

describe('our portmapper, in this process', () => {
  test('version 2: SET, a second SET refused, GETPORT (any version as a fallback), DUMP, UNSET', async () => {
    const { v2 } = await startPortmapper()
    expect(await v2.PMAPPROC_SET({ prog: 400_000, vers: 1, prot: IPPROTO_TCP, port: 2049 })).toBe(true)
    expect(await v2.PMAPPROC_SET({ prog: 400_000, vers: 1, prot: IPPROTO_TCP, port: 2050 })).toBe(false)
    expect(await v2.PMAPPROC_SET({ prog: 400_000, vers: 1, prot: IPPROTO_UDP, port: 2051 })).toBe(true)
    expect(await v2.PMAPPROC_SET({ prog: 400_000, vers: 1, prot: 99, port: 1 })).toBe(false)
    expect(await v2.PMAPPROC_GETPORT({ prog: 400_000, vers: 1, prot: IPPROTO_UDP, port: 0 })).toBe(2051)
    expect(await v2.PMAPPROC_GETPORT({ prog: 400_000, vers: 7, prot: IPPROTO_TCP, port: 0 })).toBe(2049)
    expect(await v2.PMAPPROC_GETPORT({ prog: 400_001, vers: 1, prot: IPPROTO_TCP, port: 0 })).toBe(0)
    const dump = await v2.PMAPPROC_DUMP(undefined)
    expect(dump.filter((m) => m.prog === PMAP_PROGRAM).map((m) => `${m.vers}/${m.prot}`)).toEqual([
      '4/6',
      '3/6',
      '2/6',
      '4/17',
      '3/17',
      '2/17',
    ])
    expect(dump.filter((m) => m.prog === 400_000)).toEqual([
      { prog: 400_000, vers: 1, prot: IPPROTO_TCP, port: 2049 },
      { prog: 400_000, vers: 1, prot: IPPROTO_UDP, port: 2051 },
    ])
    expect(await v2.PMAPPROC_UNSET({ prog: 400_000, vers: 1, prot: 0, port: 0 })).toBe(true)
    expect(await v2.PMAPPROC_UNSET({ prog: 400_000, vers: 1, prot: 0, port: 0 })).toBe(false)
    expect(await v2.PMAPPROC_GETPORT({ prog: 400_000, vers: 1, prot: IPPROTO_TCP, port: 0 })).toBe(0)
  })

  test('versions 3 and 4: SET by netid, GETADDR merges a wildcard host, GETVERSADDR is exact, UNSET by netid', async () => {
    const { v3, v4 } = await startPortmapper()
    expect(await v4.RPCBPROC_SET(rpcb(400_000, 2, 'tcp', '0.0.0.0.8.1'))).toBe(true)
    expect(await v4.RPCBPROC_SET(rpcb(400_000, 2, 'tcp6', '::.8.1'))).toBe(true)
    expect(await v3.RPCBPROC_SET(rpcb(400_000, 2, 'tcp', '0.0.0.0.8.2'))).toBe(false)
    // The call came in on tcp to 127.0.0.1: the wildcard is answered with it.
    expect(await v4.RPCBPROC_GETADDR(rpcb(400_000, 2, 'tcp'))).toBe('127.0.0.1.8.1')
    expect(await v4.RPCBPROC_GETADDR(rpcb(400_000, 0, 'tcp'))).toBe('127.0.0.1.8.1')
    expect(await v4.RPCBPROC_GETVERSADDR(rpcb(400_000, 0, 'tcp'))).toBe('')
    expect(await v4.RPCBPROC_GETADDRLIST(rpcb(400_000, 2, ''))).toEqual([
      { r_maddr: '127.0.0.1.8.1', r_nc_netid: 'tcp', r_nc_semantics: 3, r_nc_protofmly: 'inet', r_nc_proto: 'tcp' },
      { r_maddr: '::.8.1', r_nc_netid: 'tcp6', r_nc_semantics: 3, r_nc_protofmly: 'inet6', r_nc_proto: 'tcp' },
    ])
    expect(await v4.RPCBPROC_UNSET(rpcb(400_000, 2, 'tcp6'))).toBe(true)
    expect((await v4.RPCBPROC_DUMP(undefined)).filter((r) => r.r_prog === 400_000).map((r) => r.r_netid)).toEqual(['tcp'])
    expect(await v4.RPCBPROC_UNSET(rpcb(400_000, 2, ''))).toBe(true)
    expect((await v4.RPCBPROC_DUMP(undefined)).filter((r) => r.r_prog === 400_000)).toEqual([])
  })

  test('GETTIME, the address conversions, GETSTAT, and remote calls refused', async () => {
    const { v3, v4 } = await startPortmapper()
    const now = Math.floor(Date.now() / 1000)
    expect(Math.abs((await v3.RPCBPROC_GETTIME(undefined)) - now)).toBeLessThan(5)
    for (const uaddr of ['127.0.0.1.0.111', '::1.8.1', 'fe80::1:2.1.2', '1:0:0:2::3.8.1', '::ffff:1.2.3.4.8.1', '2001:db8::1:0:0:1.8.1']) {
      expect(await v4.RPCBPROC_TADDR2UADDR(await v4.RPCBPROC_UADDR2TADDR(uaddr))).toBe(uaddr)
    }
    const refused = await v4
      .RPCBPROC_INDIRECT({ prog: 1, vers: 1, proc: 0, args: new Uint8Array(0) })
      .catch((error: RpcReplyError) => error)
    expect((refused as RpcReplyError).failure).toBe('PROC_UNAVAIL')
    const stats = await v4.RPCBPROC_GETSTAT(undefined)
    expect(stats).toHaveLength(3)
    expect(stats[2]?.info[6]).toBe(0) // GETTIME went to version 3
    expect(stats[1]?.info[6]).toBe(1)
  })

  test('as rpcbind: an AUTH_SYS uid is not believed, UNSET leaves what others registered, version 2 UNSET only tcp and udp, GETPORT falls back to the last version', async () => {
    const { v2, v4, pmap, tcp } = await startPortmapper()
    const port = (tcp.address as { port: number }).port
    const claimsRoot = await RpcClient.connect({ transport: 'tcp', host: '127.0.0.1', port, credential: sysCredential({ uid: 0 }) })
    registerCleanup(() => claimsRoot.close())
    const rootV4 = programClient(claimsRoot, Portmapper, 'RPCBVERS4')
    expect(await rootV4.RPCBPROC_SET(rpcb(400_000, 1, 'tcp', '127.0.0.1.4.1'))).toBe(true)
    expect(await rootV4.RPCBPROC_SET(rpcb(400_000, 1, 'tcp6', '::1.4.1'))).toBe(true)
    expect(
      pmap
        .entries()
        .filter((e) => e.program === 400_000)
        .map((e) => e.owner),
    ).toEqual(['unknown', 'unknown'])
    // The portmapper's own registrations are the superuser's: no caller takes them back.
    expect(await rootV4.RPCBPROC_UNSET(rpcb(PMAP_PROGRAM, 2, 'tcp'))).toBe(false)
    expect(await v2.PMAPPROC_GETPORT({ prog: PMAP_PROGRAM, vers: 2, prot: IPPROTO_TCP, port: 0 })).toBe(port)
    expect(await v2.PMAPPROC_UNSET({ prog: 400_000, vers: 1, prot: 0, port: 0 })).toBe(true)
    expect(
      pmap
        .entries()
        .filter((e) => e.program === 400_000)
        .map((e) => e.netid),
    ).toEqual(['tcp6'])
    expect(await v4.RPCBPROC_SET(rpcb(400_001, 1, 'tcp', '127.0.0.1.3.233'))).toBe(true)
    expect(await v4.RPCBPROC_SET(rpcb(400_001, 3, 'tcp', '127.0.0.1.3.235'))).toBe(true)
    expect(await v2.PMAPPROC_GETPORT({ prog: 400_001, vers: 2, prot: IPPROTO_TCP, port: 0 })).toBe(1003)
  })

  test('registerWithPortmapper() registers every version on every transport, and unregister() takes them back', async () => {
    const { tcp: pmapTcp, v4 } = await startPortmapper()
    const program = calculator().program
    const tcp = await listen('tcp4')
    const tcp6 = await listen('tcp6')
    const udp = await listenDatagram('udp4')
    const unix = await listen('unix')
    const port = (pmapTcp.address as { port: number }).port
    const registration = await registerWithPortmapper(program, [tcp, tcp6, udp, unix], {
      portmapper: { transport: 'tcp', host: '127.0.0.1', port },
    })
    const ours = async () => (await v4.RPCBPROC_DUMP(undefined)).filter((r) => r.r_prog === Calculator.number)
    const dump = await ours()
    expect(dump.map((r) => `${r.r_vers} ${r.r_netid}`)).toEqual([
      '1 tcp',
      '1 tcp6',
      '1 udp',
      '1 local',
      '3 tcp',
      '3 tcp6',
      '3 udp',
      '3 local',
    ])
    const tcpPort = (tcp.address as { port: number }).port
    expect(dump[0]?.r_addr).toBe(`127.0.0.1.${tcpPort >> 8}.${tcpPort & 0xff}`)
    expect(dump[3]?.r_addr).toBe((unix.address as { path: string }).path)
    expect(registration.registered.every((entry) => entry.through === 4)).toBe(true)
    // Registering again replaces (UNSET, then SET), as a restarted server does.
    await registerWithPortmapper(program, [tcp], { portmapper: { transport: 'tcp', host: '127.0.0.1', port } })
    await registration.unregister()
    expect(await ours()).toEqual([])
  })

  test('a portmapper that cannot be reached is a PortmapperError', async () => {
    const closed = await listen('tcp4')
    const port = (closed.address as { port: number }).port
    await closed.close()
    await expect(
      registerWithPortmapper(calculator().program, [closed], { portmapper: { transport: 'tcp', host: '127.0.0.1', port } }),
    ).rejects.toThrow(PortmapperError)
  })
})

describe.runIf(hasNetworkNamespaces())('on port 111, in a network namespace of its own', () => {
  test('rpcinfo lists our portmapper and the programs registered with it, and calls them through it', async () => {
    const ns = spawnInNetworkNamespace(process.execPath, [host, '--via-tcp'])
    await ns.waitFor('ready')
    const [, tcpPort = '', udpPort = ''] = /tcp (\d+) udp (\d+)/.exec(ns.output()) ?? []
    const pmap = await ns.run('rpcinfo', ['-p', '127.0.0.1'])
    expect(pmap.stdout).toContain('    100000    2   tcp    111  portmapper\n')
    expect(pmap.stdout).toContain('    100000    2   udp    111  portmapper\n')
    expect(pmap.stdout).toContain(` ${calcNumber}    1   tcp  ${tcpPort.padStart(5)}\n`)
    expect(pmap.stdout).toContain(` ${calcNumber}    3   udp  ${udpPort.padStart(5)}\n`)
    const rpcb = await ns.run('rpcinfo', ['127.0.0.1'])
    expect(rpcb.stdout).toMatch(/100000 {4}4 {4}tcp {7}127\.0\.0\.1\.0\.111 +portmapper superuser/)
    expect(rpcb.stdout).toMatch(new RegExp(`${calcNumber} {4}1 {4}udp {7}127\\.0\\.0\\.1\\.`))
    for (const flag of ['-t', '-u']) {
      const ping = await ns.run('rpcinfo', [flag, '127.0.0.1', calcNumber, '3'])
      expect(ping.stdout).toBe(`program ${calcNumber} version 3 ready and waiting\n`)
    }
    const direct = await ns.run('rpcinfo', ['-n', tcpPort, '-t', '127.0.0.1', calcNumber, '1'])
    expect(direct.stdout).toBe(`program ${calcNumber} version 1 ready and waiting\n`)
    const self = await ns.run('rpcinfo', ['-u', '127.0.0.1', '100000', '2'])
    expect(self.stdout).toBe('program 100000 version 2 ready and waiting\n')
    const stats = await ns.run('rpcinfo', ['-m', '127.0.0.1'])
    expect(stats.stdout).toContain('RPCBIND (version 4) statistics')

    ns.child.kill('SIGTERM')
    await ns.waitFor('unregistered')
    await ns.exit
  })

  test('a program registers with Debian rpcbind through its Unix socket, and unregisters', async () => {
    const rpcbind = spawnInNetworkNamespace('rpcbind', ['-f', '-w'], { privateDirs: ['/run'] })
    // rpcbind is ready once its Unix socket answers.
    let listed = ''
    const answers = async () => {
      listed = (await rpcbind.run('rpcinfo', [])).stdout
      return listed.includes('portmapper')
    }
    await until(answers, 10_000, 'rpcbind to answer')
    expect(listed).toContain('local     /run/rpcbind.sock      portmapper superuser')
    const program = spawn('nsenter', ['-t', String(rpcbind.pid), '-n', '-m', process.execPath, host, '--no-portmapper'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let output = ''
    program.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    const exited = new Promise((resolve) => program.once('exit', resolve))
    registerCleanup(() => program.kill('SIGKILL'))
    let dump = ''
    const registered = async () => {
      dump = (await rpcbind.run('rpcinfo', ['-p', '127.0.0.1'])).stdout
      return dump.includes(calcNumber)
    }
    await until(registered, 10_000, 'the registration')
    expect(dump).toContain(` ${calcNumber}    1   tcp `)
    expect((await rpcbind.run('rpcinfo', ['-t', '127.0.0.1', calcNumber, '1'])).stdout).toBe(
      `program ${calcNumber} version 1 ready and waiting\n`,
    )
    program.kill('SIGTERM')
    await exited
    expect(output).toContain('unregistered')
    expect((await rpcbind.run('rpcinfo', ['-p', '127.0.0.1'])).stdout).not.toContain(calcNumber)
  })
})
