// Testing your own handler with @socketserver/testing: every transport,
// every policy, plus a focused test. Run: pnpm test

import { StreamRequestHandler } from '@socketserver/handlers'
import { connect, describeHandlerCompliance, listen, serveInBackground } from '@socketserver/testing'
import { expect, test } from 'vitest'

class UpperHandler extends StreamRequestHandler {
  override async handle(): Promise<void> {
    for await (const line of this.rfile.lines()) await this.wfile.write(Buffer.from(line).toString().toUpperCase())
  }
}

describeHandlerCompliance('UpperHandler', {
  handler: UpperHandler,
  exchange: async (client) => {
    await client.send('shout\n')
    expect(await client.readLine()).toBe('SHOUT\n')
  },
})

test('UpperHandler answers each line of a pipelined burst', async () => {
  const server = await listen('tcp4')
  const serving = serveInBackground(server, UpperHandler)
  const client = await connect(server.address)
  await client.send('a\nb\nc\n')
  expect([await client.readLine(), await client.readLine(), await client.readLine()]).toEqual(['A\n', 'B\n', 'C\n'])
  client.end()
  await client.waitForEnd()
  await serving.stop()
  expect(serving.errors).toEqual([])
})
