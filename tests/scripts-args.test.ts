// Every script a user or a parent script runs refuses arguments it does not
// understand: one line naming the flag or value and what was expected, then
// the usage, on stderr, and exit code 2, before it compiles or starts
// anything. --help prints the usage on stdout and exits 0. None of these runs
// reaches the script's real work, so no build is needed.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { describe, expect, onTestFinished, test } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `command args` in the repository root and waits for it to exit. */
async function run(command: string, args: string[]): Promise<Run> {
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  // A script that failed to refuse would go on to its real work: stop it.
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
  // 'close' comes after both pipes have ended, so the output is complete.
  const [code] = (await once(child, 'close', { signal: AbortSignal.timeout(5_000) })) as [number | null]
  return { code, stdout, stderr }
}

interface ScriptCase {
  script: string
  /** How the usage starts. */
  usage: string
  /** Arguments that name a real flag or positional argument with a bad value, and the message. */
  bad: { args: string[]; message: string }[]
}

const SCRIPTS: ScriptCase[] = [
  {
    script: 'scripts/stress.mjs',
    usage: 'Usage: node scripts/stress.mjs [--seconds S] [--cases CASE,...]',
    bad: [
      { args: ['--duration', '1'], message: 'Cannot use --duration: unknown option' },
      { args: ['--seconds', 'abc'], message: 'Cannot use --seconds "abc": expected a positive number' },
      {
        args: ['--cases', 'tcp:pooled,tcp:threaded'],
        message: 'Cannot use --cases "tcp:pooled,tcp:threaded": expected a comma-separated list of cases ("tcp:threaded" is not one)',
      },
      { args: ['--seconds'], message: 'Cannot use --seconds: expected a value (a positive number)' },
    ],
  },
  {
    script: 'bench/run.mjs',
    usage: 'Usage: node bench/run.mjs [--quick] [--runs N] [--seconds S] [--only SUBSTRING]',
    bad: [
      { args: ['--runs', '0'], message: 'Cannot use --runs "0": expected a whole number of 1 or more' },
      { args: ['--quick', '--seconds', 'x'], message: 'Cannot use --seconds "x": expected a positive number' },
      { args: ['--only', 'SCTP'], message: 'Cannot use --only "SCTP": expected part of a case name' },
    ],
  },
  {
    script: 'scripts/start.mjs',
    usage: 'Usage: node scripts/start.mjs',
    bad: [
      { args: ['--tcp', '127.0.0.1:7007'], message: 'Cannot use --tcp: unknown option' },
      { args: ['echo'], message: 'Cannot use "echo": unexpected argument' },
    ],
  },
  {
    script: 'scripts/stress-server.mjs',
    usage: 'Usage: node scripts/stress-server.mjs TRANSPORT POLICY',
    bad: [
      { args: ['tcp', 'threaded'], message: 'Cannot use POLICY "threaded": expected sequential, pooled or forked' },
      { args: ['tcp'], message: 'Cannot run without POLICY: expected TRANSPORT POLICY' },
      { args: ['tcp', 'pooled', 'extra'], message: 'Cannot use "extra": unexpected argument' },
    ],
  },
  {
    script: 'bench/servers/ours.mjs',
    usage: 'Usage: node bench/servers/ours.mjs TRANSPORT POLICY SERVICE',
    bad: [
      { args: ['sctp', 'pooled', 'echo'], message: 'Cannot use TRANSPORT "sctp": expected tcp, unix, udp or unixdgram' },
      {
        args: ['tcp', 'forked:0', 'echo'],
        message:
          'Cannot use POLICY "forked:0": expected sequential, pooled, forked, forked:N or forked@M (N, M whole numbers of 1 or more)',
      },
      {
        args: ['tcp', 'forked@0', 'echo'],
        message:
          'Cannot use POLICY "forked@0": expected sequential, pooled, forked, forked:N or forked@M (N, M whole numbers of 1 or more)',
      },
      {
        args: ['tcp', 'forked', 'upper'],
        message: 'Cannot use SERVICE "upper" with POLICY "forked": only the echoes have a module for forked children',
      },
      { args: ['tcp', 'pooled'], message: 'Cannot run without SERVICE: expected TRANSPORT POLICY SERVICE' },
    ],
  },
  {
    script: 'bench/servers/raw-node.mjs',
    usage: 'Usage: node bench/servers/raw-node.mjs TRANSPORT [SERVICE]',
    bad: [
      { args: ['udp', 'upper'], message: 'Cannot use SERVICE "upper" on udp: expected echo or echo-promise' },
      { args: [], message: 'Cannot run without TRANSPORT: expected TRANSPORT [SERVICE]' },
      { args: ['tcp', 'echo', 'extra'], message: 'Cannot use "extra": unexpected argument' },
    ],
  },
]

/** Each case with its arguments as one string, for the test's name. */
function named(cases: { args: string[]; message: string }[]) {
  return cases.map((c) => ({ ...c, shown: c.args.join(' ') }))
}

/** Checks a refusal: exit 2, nothing on stdout, the message alone on stderr's first line, then the usage. */
function expectRefused(result: Run, message: string, usage: string) {
  const [first, ...rest] = result.stderr.split('\n')
  expect(first, result.stderr).toBe(message)
  expect(rest.join('\n').startsWith(usage), result.stderr).toBe(true)
  expect(result.stdout).toBe('')
  expect(result.code, result.stderr).toBe(2)
}

describe.each(SCRIPTS)('$script', ({ script, usage, bad }) => {
  test('refuses an unknown option with exit code 2, naming it, then the usage', async () => {
    expectRefused(await run(process.execPath, [script, '--bogus']), 'Cannot use --bogus: unknown option', usage)
  })

  test.each(named(bad))('refuses "$shown" with exit code 2, naming what is wrong, then the usage', async ({ args, message }) => {
    expectRefused(await run(process.execPath, [script, ...args]), message, usage)
  })

  test('--help prints the usage on stdout and exits 0', async () => {
    const result = await run(process.execPath, [script, '--help'])
    expect(result.stdout.startsWith(usage), result.stdout).toBe(true)
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
  })
})

// The Python baseline cannot share the parser, so it has its own checks in
// the same words.
const hasPython = spawnSync('python3', ['-c', 'import socketserver']).status === 0
describe.skipIf(!hasPython)('bench/servers/python_socketserver.py', () => {
  const script = 'bench/servers/python_socketserver.py'
  const usage = 'Usage: python3 bench/servers/python_socketserver.py CLASS SERVICE'

  test.each(
    named([
      { args: ['--bogus'], message: 'Cannot use --bogus: unknown option' },
      { args: ['TCPServer'], message: 'Cannot run without SERVICE: expected CLASS SERVICE' },
      { args: ['TCPServer', 'echo', 'extra'], message: 'Cannot use "extra": unexpected argument' },
      { args: ['UDPServer', 'upper'], message: 'Cannot use SERVICE "upper" with CLASS "UDPServer": expected echo' },
    ]),
  )('refuses "$shown" with exit code 2, naming what is wrong, then the usage', async ({ args, message }) => {
    expectRefused(await run('python3', [script, ...args]), message, usage)
  })

  test('--help prints the usage on stdout and exits 0', async () => {
    const result = await run('python3', [script, '--help'])
    expect(result.stdout.startsWith(usage), result.stdout).toBe(true)
    expect(result.code).toBe(0)
  })
})
