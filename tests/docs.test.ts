// The API reference builds, with TypeDoc's warnings (broken links, exports
// without documentation) treated as errors.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, test } from 'vitest'

const exec = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))

test('pnpm run docs builds the API reference without warnings', async () => {
  await exec('pnpm', ['--filter', '@socketserver/docs-tools', 'docs'], { cwd: root, timeout: 120_000 })
  expect(existsSync(`${root}docs/api/index.html`)).toBe(true)
}, 150_000)
