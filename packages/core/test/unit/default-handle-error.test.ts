import { defaultHandleError, HandlerError, type Request, RequestTimeoutError, WorkerCrashedError } from '@socketserver/core'
import { afterEach, describe, expect, test, vi } from 'vitest'

const client = { transport: 'tcp', host: '127.0.0.1', port: 4242, family: 'IPv4' } as const
const request = { clientAddress: client } as unknown as Request

function linesOf(report: () => void): string[] {
  const lines: string[] = []
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk))
    return true
  })
  report()
  return lines
}

afterEach(() => vi.restoreAllMocks())

describe('defaultHandleError()', () => {
  test.each([
    ['WorkerCrashedError', new WorkerCrashedError(null, 'SIGKILL', client)],
    ['HandlerError', new HandlerError(client, new Error('kaput'))],
  ])('names the client once for a %s, which carries it (#16)', (_, error) => {
    const [line] = linesOf(() => defaultHandleError(error, request))
    expect(line?.match(/127\.0\.0\.1:4242/g)).toHaveLength(1)
  })

  test('adds the client for an error that does not carry it', () => {
    const [line] = linesOf(() => defaultHandleError(new RequestTimeoutError(100), request))
    expect(line).toBe('socketserver: RequestTimeoutError: Cannot finish the request: it took longer than 100 ms (client 127.0.0.1:4242)\n')
  })
})
