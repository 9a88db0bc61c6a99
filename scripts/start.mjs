// `pnpm start`: runs the echo service (RFC 862) on TCP and on a Unix socket,
// both on loopback, and says how to try it. Ctrl-C stops it gracefully.
//   node scripts/start.mjs
// It takes no arguments but --help; anything else is refused with exit code
// 2 (the CLI, packages/cli/bin/socketserver.js, takes services and ports).
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { readCommandLine } from './lib/args.mjs'

readCommandLine({
  usage: `Usage: node scripts/start.mjs   (or: pnpm start)
  Runs the echo service on 127.0.0.1 (TCP, a free port) and on a Unix socket in
  a temporary directory, and says how to try it; Ctrl-C stops it. For other
  services, addresses and policies: node packages/cli/bin/socketserver.js --help
  -h, --help   print this and exit`,
})

const bin = fileURLToPath(new URL('../packages/cli/bin/socketserver.js', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'socketserver-demo-'))
const path = join(dir, 'echo.sock')
const child = spawn(process.execPath, [bin, 'serve', 'echo', '--tcp', '127.0.0.1:0', '--unix', path], {
  stdio: ['ignore', 'pipe', 'inherit'],
  // Its own process group: Ctrl-C reaches only this script, which passes it
  // on once (a second signal would make the server stop at once).
  detached: true,
})

// Pass Ctrl-C and SIGTERM to the server, let it stop gracefully, exit after it.
process.on('SIGINT', () => child.kill('SIGINT'))
process.on('SIGTERM', () => child.kill('SIGTERM'))
process.on('exit', () => child.kill('SIGKILL'))
const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))

const hints = []
for await (const line of createInterface({ input: child.stdout })) {
  console.log(line)
  const [, transport, address] = line.split(' ')
  if (transport === 'tcp') {
    const port = address.slice(address.lastIndexOf(':') + 1)
    hints.push(`  nc 127.0.0.1 ${port}`)
  } else if (transport === 'unix') {
    hints.push(`  nc -U ${address}`)
  }
  if (hints.length === 2) {
    console.log(
      `\nThe echo service sends back every byte you type. Try it from another terminal:\n${hints.join('\n')}\n\nPress Ctrl-C to stop.`,
    )
  }
}
const code = await exited
rmSync(dir, { recursive: true, force: true })
process.exitCode = code ?? 0
