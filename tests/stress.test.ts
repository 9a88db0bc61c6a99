import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'
import { runNodeScript } from './run-node-script.js'

const STRESS = fileURLToPath(new URL('../scripts/stress.mjs', import.meta.url))

// The short version of `pnpm stress` that CI runs: every transport x policy
// for one second each, with misbehaving clients. It must report no failure
// that was not the client's own doing, no descriptor growth and no child
// process left (memory growth is judged only in longer runs).
test('pnpm stress, short: every transport x policy holds under misbehaving clients', async () => {
  const { code, output } = await runNodeScript(STRESS, ['--seconds', '1'])
  const cases = output.split('\n').filter((line) => / served +\d+/.test(line))
  expect(cases, output).toHaveLength(25)
  for (const line of cases) {
    expect(line, output).toMatch(/ failed +0 /)
    expect(line, output).toMatch(/children left 0$/)
  }
  expect(output).toContain('stress: all cases held')
  expect(code, output).toBe(0)
}, 180_000)
