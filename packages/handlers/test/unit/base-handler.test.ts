import type { Request } from '@socketserver/core'
import { BaseRequestHandler } from '@socketserver/handlers'
import { describe, expect, test } from 'vitest'

const request = { clientAddress: { transport: 'tcp', host: '127.0.0.1', port: 1, family: 'IPv4' }, server: {} } as unknown as Request

function recording(fail?: 'setup' | 'handle'): { events: string[]; Handler: new (request: Request) => BaseRequestHandler } {
  const events: string[] = []
  class Handler extends BaseRequestHandler {
    override async setup(): Promise<void> {
      events.push('setup')
      if (fail === 'setup') throw new Error('setup failed')
    }
    override async handle(): Promise<void> {
      events.push('handle')
      if (fail === 'handle') throw new Error('handle failed')
    }
    override async finish(): Promise<void> {
      events.push('finish')
    }
  }
  return { events, Handler }
}

describe('BaseRequestHandler', () => {
  test('run() calls setup, handle, finish in order and exposes the request, client and server', async () => {
    const { events, Handler } = recording()
    const handler = new Handler(request)
    expect(handler.clientAddress).toBe(request.clientAddress)
    expect(handler.server).toBe(request.server)
    await handler.run()
    expect(events).toEqual(['setup', 'handle', 'finish'])
  })

  test('finish runs when handle throws, and the error propagates', async () => {
    const { events, Handler } = recording('handle')
    await expect(new Handler(request).run()).rejects.toThrow('handle failed')
    expect(events).toEqual(['setup', 'handle', 'finish'])
  })

  test('finish does not run when setup throws (as in Python)', async () => {
    const { events, Handler } = recording('setup')
    await expect(new Handler(request).run()).rejects.toThrow('setup failed')
    expect(events).toEqual(['setup'])
  })
})
