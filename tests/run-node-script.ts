// Runs one of the repository's scripts (a soak, a bench) under Node for a
// test, as CI does: what it printed on stdout and stderr, in order, and how
// it exited.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { onTestFinished } from 'vitest'

/** How a script run ended. */
export interface ScriptRun {
  /** The exit code (null when a signal ended it). */
  code: number | null
  /** Everything it wrote to stdout and stderr, interleaved as it came. */
  output: string
}

/** Runs `node script ...args` and waits until it exited and both pipes ended; a run the test leaves behind is killed. */
export async function runNodeScript(script: string, args: string[]): Promise<ScriptRun> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk))
  // 'close' comes after both pipes have ended ('exit' may come before the last output).
  const [code] = (await once(child, 'close')) as [number | null]
  return { code, output }
}
