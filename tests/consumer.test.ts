// The packages as consumers get them: pack each, check the tarballs with
// publint and arethetypeswrong, install them with plain npm into a project
// outside the workspace, then run, type-check and execute from there.
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

const exec = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))
const PACKAGES = ['core', 'handlers', 'testing', 'proxy-protocol', 'tls', 'supervisor', 'oncrpc', 'jobs', 'cli']
const work = mkdtempSync(join(tmpdir(), 'ss-consumer-'))
const packs = join(work, 'packs')
const project = join(work, 'project')
const tarballs: string[] = []

beforeAll(async () => {
  for (const name of PACKAGES) {
    await exec('pnpm', ['pack', '--pack-destination', packs], { cwd: join(root, 'packages', name) })
  }
  tarballs.push(...readdirSync(packs).map((file) => join(packs, file)))
  await exec('mkdir', ['-p', project])
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  await exec('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs, '@types/node@^20', 'vitest@4.1.12'], {
    cwd: project,
    timeout: 240_000,
  })
}, 300_000)

afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('the packed packages', () => {
  test.each(PACKAGES)(
    '@socketserver/%s passes publint and arethetypeswrong',
    async (name) => {
      const tarball = tarballs.find((file) => file.includes(`socketserver-${name}-`)) as string
      await exec(join(root, 'node_modules/.bin/publint'), ['run', tarball, '--strict'])
      await exec(join(root, 'node_modules/.bin/attw'), [tarball, '--profile', 'esm-only'])
    },
    60_000,
  )

  test('an ESM script serves TCP echo with serve() and stops it with an AbortController', async () => {
    writeFileSync(
      join(project, 'echo.mjs'),
      `import net from 'node:net'
import { TCPServer, serve } from '@socketserver/core'
import { StreamRequestHandler } from '@socketserver/handlers'
class Echo extends StreamRequestHandler {
  async handle() { for await (const line of this.rfile.lines()) await this.wfile.write(line) }
}
const server = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
const controller = new AbortController()
const serving = serve(server, Echo, { signal: controller.signal })
const reply = await new Promise((resolve, reject) => {
  const client = net.connect(server.address.port, '127.0.0.1', () => client.end('from a consumer\\n'))
  let text = ''
  client.on('data', (chunk) => (text += chunk))
  client.on('end', () => resolve(text))
  client.on('error', reject)
})
controller.abort()
await serving
console.log(reply.trim())
`,
    )
    const { stdout } = await exec(process.execPath, ['echo.mjs'], { cwd: project, timeout: 20_000 })
    expect(stdout.trim()).toBe('from a consumer')
  }, 30_000)

  test('a TypeScript file using the public API type-checks with moduleResolution nodenext', async () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          types: ['node'],
          skipLibCheck: false,
          rootDir: '.',
        },
        files: ['use.ts'],
      }),
    )
    writeFileSync(
      join(project, 'use.ts'),
      `import { TCPServer, UDPServer, type StreamRequest, type DatagramRequest, serve, pooled, sequential, forked, BindError } from '@socketserver/core'
import { StreamRequestHandler, DatagramRequestHandler, lineHandler } from '@socketserver/handlers'
import { parseArgs } from '@socketserver/cli'
import { withProxyProtocol, type ProxiedStreamRequest } from '@socketserver/proxy-protocol'
import { withTLS, type TLSStreamRequest } from '@socketserver/tls'
import { JobTable, type TableJob } from '@socketserver/jobs'
class Upper extends StreamRequestHandler {
  override async handle(): Promise<void> {
    const line: Uint8Array = await this.rfile.readline({ maxLength: 1024 })
    await this.wfile.write(Buffer.from(line).toString().toUpperCase())
  }
}
class Pong extends DatagramRequestHandler {
  override async handle(): Promise<void> { await this.wfile.write(this.packet) }
}
export async function main(signal: AbortSignal): Promise<void> {
  const tcp = await TCPServer.listen({ host: '127.0.0.1', port: 0 })
  const udp = await UDPServer.bind({ port: 0 })
  const echo = (request: StreamRequest): Promise<void> => request.sink(request.source)
  const reply = (request: DatagramRequest): Promise<void> => request.reply(request.data)
  await Promise.all([serve(tcp, Upper, { signal, policy: pooled({ concurrency: 4 }) }), serve(udp, Pong, { signal, policy: sequential() })])
  void echo; void reply; void lineHandler((text) => text); void forked; void parseArgs
  const behindProxy = (request: ProxiedStreamRequest): string => request.proxyAddress.transport
  void behindProxy; void withProxyProtocol
  const overTLS = (request: TLSStreamRequest): string | null => request.tls.protocol
  void overTLS; void withTLS
  const sum = (job: TableJob): number => (job.data as { a: number }).a + job.attempt
  void sum; void JobTable.open
  const failure: unknown = null
  if (failure instanceof BindError) console.log(failure.code, failure.address)
}
`,
    )
    await exec(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project, timeout: 60_000 })
  }, 90_000)

  test('the installed socketserver bin runs', async () => {
    const { stdout } = await exec(join(project, 'node_modules/.bin/socketserver'), ['--help'], { cwd: project, timeout: 20_000 })
    expect(stdout).toContain('Usage: socketserver serve')
  }, 30_000)
})
