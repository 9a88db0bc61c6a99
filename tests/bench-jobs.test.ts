import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'
import { runNodeScript } from './run-node-script.js'

const BENCH = fileURLToPath(new URL('../bench/jobs.mjs', import.meta.url))

// The jobs rows of `pnpm bench` in small, as CI runs them: every system
// (ours on PostgreSQL and SQLite, pg-boss, graphile-worker) does every job
// with 1, 2 and 4 workers and reports its latency. The figures come from
// `pnpm bench`; this proves the rows run.
test('the jobs bench runs every system to the end', async () => {
  const { code, output } = await runNodeScript(BENCH, ['--jobs', '300', '--samples', '3'])
  expect(code, output).toBe(0)
  for (const system of ['ours, PostgreSQL', 'ours, SQLite', 'pg-boss 10.4.2', 'graphile-worker 0.16.6']) {
    expect(output, output).toMatch(
      new RegExp(`${system.replace('.', '\\.')} +jobs/s 1w +\\d+ +2w +\\d+ +4w +\\d+ +enqueue->start p50 [\\d.]+ ms`),
    )
  }
  expect(output).toMatch(/ours, PostgreSQL: 4 workers [\d.]+ x/)
}, 240_000)
