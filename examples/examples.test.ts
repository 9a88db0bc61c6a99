// Every example runs here and its output is checked, so none can rot.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, test } from 'vitest'

const run = promisify(execFile)

const EXPECTED: Record<string, RegExp> = {
  'tcp-upper.mjs': /^server received: hello world\nclient received: HELLO WORLD\n$/,
  'stream-upper.mjs': /^server received: stream handlers read lines\nclient received: STREAM HANDLERS READ LINES\n$/,
  'udp-upper.mjs': /^server received: datagrams too\nclient received: DATAGRAMS TOO\n$/,
  'pooled-threading.mjs': /^Received: request 1: Hello World 1\nReceived: request 2: Hello World 2\nReceived: request 3: Hello World 3\n$/,
  'forked.mjs': /^ISOLATED \(from a child process\)\na child served it: true\nchildren left after serve\(\): 0\n$/,
  'for-await.mjs': /^hello from a for await loop\nclosed\n$/,
  'duplex-pipe.mjs': /^desserts\nstressed\n$/,
  'graceful-shutdown.mjs':
    /^new connections refused after abort: true\nhandler stopped: DrainTimeoutError\nhandleError: DrainTimeoutError\nserve\(\) resolved; the slow client was closed\n$/,
  'diagnostics.mjs': /^requests started 3, ended 3, errors 1\n$/,
  'chat.mjs':
    /^client 2 got: client 1: hello\nclient 3 got: client 1: hello\nserve\(\) resolved; every client got: bye\nerrors reported: 0\n$/,
}

test.each(Object.entries(EXPECTED))('examples/%s runs and prints what it should', async (file, expected) => {
  const { stdout } = await run(process.execPath, [fileURLToPath(new URL(`./${file}`, import.meta.url))], { timeout: 15_000 })
  expect(stdout).toMatch(expected)
})
