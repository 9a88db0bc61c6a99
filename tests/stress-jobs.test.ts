import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'
import { runNodeScript } from './run-node-script.js'

const STRESS = fileURLToPath(new URL('../scripts/stress-jobs.mjs', import.meta.url))

// The short version of `pnpm stress:jobs` that CI runs: 2,000 jobs per
// engine, workers SIGKILLed at random and restarted, PostgreSQL restarted
// once; every job done once by the ledger, every extra attempt explained.
test('pnpm stress:jobs, short: both engines hold under SIGKILLed workers and a database restart', async () => {
  const { code, output } = await runNodeScript(STRESS, ['--jobs', '2000', '--kill-every-ms', '300'])
  const rows = output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { engine: string; held: boolean; done: number; ledgerRuns: number; kills: number })
  expect(
    rows.map((row) => row.engine),
    output,
  ).toEqual(['postgres', 'sqlite'])
  for (const row of rows) expect(row, output).toMatchObject({ held: true, done: 2000, ledgerRuns: 2000 })
  expect(output).toContain('stress-jobs: every engine held')
  expect(code, output).toBe(0)
}, 180_000)
