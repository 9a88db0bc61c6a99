import { duplexHandler, lineHandler } from '@socketserver/handlers'
import { connect, listen, serveInBackground } from '@socketserver/testing'
import { describe, expect, test } from 'vitest'

describe('lineHandler()', () => {
  test('answers each line with what the function returns, and stays silent on undefined', async () => {
    const server = await listen('tcp4')
    serveInBackground(
      server,
      lineHandler((line) => (line === 'skip' ? undefined : `${line.length}\n`)),
    )
    const client = await connect(server.address)
    await client.send('four\nskip\r\nsix666\n')
    expect(await client.readLine()).toBe('4\n')
    expect(await client.readLine()).toBe('6\n')
    client.end()
    await client.waitForEnd()
  })
})

describe('duplexHandler()', () => {
  test('pipes the client bytes through a transform and back, then ends', async () => {
    const server = await listen('unix')
    serveInBackground(
      server,
      duplexHandler(async function* (source) {
        for await (const chunk of source) yield Buffer.from(Buffer.from(chunk).toString().split('').reverse().join(''))
      }),
    )
    const client = await connect(server.address)
    await client.send('abc')
    client.end()
    expect((await client.readAll()).toString()).toBe('cba')
  })
})
