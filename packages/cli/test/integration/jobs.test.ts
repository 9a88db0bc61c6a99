// `socketserver jobs add|status --source URL` and `socketserver serve MODULE
// --source URL` (with and without --processes), as real processes.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { registerCleanup, until } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

const exec = promisify(execFile)
const BIN = fileURLToPath(new URL('../../bin/socketserver.js', import.meta.url))

// Each job is answered with the worker's pid and its data times ten.
const HANDLER = 'export default async (job) => ({ pid: process.pid, tenfold: job.data.n * 10 })\n'

function workspace(): { dir: string; url: string; handler: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ss-cli-jobs-'))
  registerCleanup(() => rmSync(dir, { recursive: true, force: true }))
  const handler = join(dir, 'tenfold.mjs')
  writeFileSync(handler, HANDLER)
  return { dir, url: `sqlite:${join(dir, 'jobs.db')}`, handler }
}

/** Runs `socketserver ARGS` with `input` on stdin; resolves with its exit code and output. */
function run(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    child.once('exit', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(input)
  })
}

async function status(url: string): Promise<Record<string, number>> {
  const { stdout } = await exec(process.execPath, [BIN, 'jobs', 'status', '--source', url])
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => {
        const [state, count] = line.split(' ')
        return [state as string, Number(count)]
      }),
  )
}

/** Starts `socketserver serve`, resolving once its "listening source" line came. */
async function startServing(args: string[]): Promise<{ child: ChildProcess; lines: string[]; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  registerCleanup(() => child.kill('SIGKILL'))
  const lines: string[] = []
  let stdout = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk
    lines.splice(0, lines.length, ...stdout.split('\n').filter(Boolean))
  })
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  await until(() => lines.some((line) => line.startsWith('listening source')) || child.exitCode !== null, 20_000)
  return { child, lines, exit }
}

describe('socketserver jobs', () => {
  test('add reads one JSON job per line; status counts them by state', async () => {
    const { url } = workspace()
    const added = await run(['jobs', 'add', '--source', url, '--max-attempts', '2'], '{"n":1}\n\n{"n":2}\n3\n')
    expect(added).toMatchObject({ code: 0, stdout: 'added 3 jobs\n' })
    const text = await run(['jobs', 'add', '--source', url, '--text'], 'plain words\n')
    expect(text.stdout).toBe('added 1 jobs\n')
    expect(await status(url)).toEqual({ pending: 4, running: 0, done: 0, failed: 0 })
  })

  test('add stops at a line that is not JSON, keeping the lines before it, and says which', async () => {
    const { url } = workspace()
    const result = await run(['jobs', 'add', '--source', url], '{"n":1}\nnot json\n{"n":3}\n')
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('added 1 jobs\n')
    expect(result.stderr).toMatch(/Cannot add line 2: it is not JSON .*use --text/)
  })

  test('bad command lines are refused with a reason', async () => {
    const { url, handler } = workspace()
    expect((await run(['jobs', 'add'])).stderr).toMatch(/without --source URL/)
    expect((await run(['jobs', 'list', '--source', url])).stderr).toMatch(/expected "jobs add/)
    expect((await run(['jobs', 'add', '--source', 'mysql://db/x'])).stderr).toMatch(/expected sqlite:PATH or postgres:/)
    expect((await run(['serve', 'echo', '--source', url])).stderr).toMatch(/Cannot serve jobs with the builtin echo/)
    expect((await run(['serve', handler, '--source', 'nope'])).code).toBe(2)
  })
})

describe('socketserver serve MODULE --source', () => {
  test('serves the table until SIGTERM, printing "listening source URL"', async () => {
    const { url, handler } = workspace()
    await run(['jobs', 'add', '--source', url], Array.from({ length: 20 }, (_, n) => JSON.stringify({ n })).join('\n'))
    const serving = await startServing([handler, '--source', url])
    expect(serving.lines).toEqual([`listening source ${url}`])
    await until(async () => (await status(url)).done === 20, 20_000)
    serving.child.kill('SIGTERM')
    expect(await serving.exit).toBe(0)
  })

  test('--processes 2: both workers open the table; every job is done once; the line is printed once', async () => {
    const { url, handler } = workspace()
    const serving = await startServing([handler, '--source', url, '--processes', '2'])
    expect(serving.lines).toEqual([`listening source ${url}`])
    await run(['jobs', 'add', '--source', url], Array.from({ length: 200 }, (_, n) => JSON.stringify({ n })).join('\n'))
    await until(async () => (await status(url)).done === 200, 30_000)
    expect(await status(url)).toEqual({ pending: 0, running: 0, done: 200, failed: 0 })
    serving.child.kill('SIGTERM')
    expect(await serving.exit).toBe(0)
  })
})
