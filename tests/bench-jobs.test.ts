import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'

const BENCH = fileURLToPath(new URL('../bench/jobs.mjs', import.meta.url))

// The jobs rows of `pnpm bench` in small, as CI runs them: every system
// (ours on PostgreSQL and SQLite, pg-boss, graphile-worker) does every job
// with 1, 2 and 4 workers and reports its latency. The figures come from
// `pnpm bench`; this proves the rows run.
test('the jobs bench runs every system to the end', async () => {
  const child = spawn(process.execPath, [BENCH, '--jobs', '300', '--samples', '3'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  expect(code, output).toBe(0)
  for (const system of ['ours, PostgreSQL', 'ours, SQLite', 'pg-boss 10.4.2', 'graphile-worker 0.16.6']) {
    expect(output, output).toMatch(
      new RegExp(`${system.replace('.', '\\.')} +jobs/s 1w +\\d+ +2w +\\d+ +4w +\\d+ +enqueue->start p50 [\\d.]+ ms`),
    )
  }
  expect(output).toMatch(/ours, PostgreSQL: 4 workers [\d.]+ x/)
}, 240_000)
