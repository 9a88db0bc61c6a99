import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'

const STRESS = fileURLToPath(new URL('../scripts/stress.mjs', import.meta.url))

// The short version of `pnpm stress` that CI runs: every transport x policy
// for one second each, with misbehaving clients. It must report no failure
// that was not the client's own doing, no descriptor growth and no child
// process left (memory growth is judged only in longer runs).
test('pnpm stress, short: every transport x policy holds under misbehaving clients', async () => {
  const child = spawn(process.execPath, [STRESS, '--seconds', '1'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  const cases = output.split('\n').filter((line) => / served +\d+/.test(line))
  expect(cases, output).toHaveLength(25)
  for (const line of cases) {
    expect(line, output).toMatch(/ failed +0 /)
    expect(line, output).toMatch(/children left 0$/)
  }
  expect(output).toContain('stress: all cases held')
  expect(code, output).toBe(0)
}, 180_000)
