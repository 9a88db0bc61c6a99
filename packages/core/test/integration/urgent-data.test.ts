import { spawn } from 'node:child_process'
import { once } from 'node:events'
import type { StreamRequest } from '@socketserver/core'
import { connect, listen, serveInBackground } from '@socketserver/testing'
import { expect, test } from 'vitest'

// A Python client that mixes TCP urgent data (send(..., MSG_OOB)) with
// ordinary bytes. Each exchange waits for the whole echo of its ordinary
// bytes before the next one starts, so every urgent byte has been passed by
// the server's reads before another arrives (a second urgent pointer can
// otherwise turn the first urgent byte into ordinary data). It prints what
// came back for each exchange, as hex, one line each.
const CLIENT = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def exchange(parts):
    for urgent, data in parts:
        s.send(data, socket.MSG_OOB if urgent else 0)
    got = b''
    while not got.endswith(b'\\n'):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    print(got.hex(), flush=True)
exchange([(False, b'abc'), (True, b'!'), (False, b'def\\n')])
exchange([(True, b'#'), (False, b'ghi\\n')])
exchange([(False, b'j'), (True, b'$'), (True, b'%'), (False, b'\\n')])
s.close()
`

test('TCP urgent data (MSG_OOB) is dropped: the ordinary bytes around it arrive complete and in order, and the server serves on', async () => {
  const server = await listen('tcp4')
  const serving = serveInBackground(server, (request: StreamRequest) => request.sink(request.source))
  if (!('port' in server.address)) throw new Error('not TCP')
  const client = spawn('python3', ['-c', CLIENT, server.address.host, String(server.address.port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let output = ''
  client.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const [code] = await once(client, 'exit', { signal: AbortSignal.timeout(10_000) })
  expect(code).toBe(0)
  const replies = output
    .trim()
    .split('\n')
    .map((hex) => Buffer.from(hex, 'hex').toString())
  // Linux, without SO_OOBINLINE (Node cannot set it), keeps each urgent
  // byte out of the stream. Two urgent bytes in a row: the first becomes
  // ordinary data when the second's pointer replaces it, so '$' may arrive.
  expect(replies.slice(0, 2)).toEqual(['abcdef\n', 'ghi\n'])
  expect(['j\n', 'j$\n']).toContain(replies[2])
  const next = await connect(server.address)
  await next.send('ordinary\n')
  expect(await next.readLine()).toBe('ordinary\n')
  next.end()
  await next.waitForEnd()
  await serving.stop()
  expect(serving.errors).toEqual([])
})
