/**
 * Reading a PROXY header from a connection before anyone else reads it.
 *
 * @module
 * @internal
 */

import type { Socket } from 'node:net'
import { ProxyProtocolError } from './errors.js'
import type { ProxyHeader } from './header.js'
import { type ProxyProtocolVersion, parseProxyHeader } from './parse.js'

const NOTHING: Buffer = Buffer.alloc(0)

/**
 * Reads the header at the start of `socket`, which must be paused with
 * nothing read yet (our servers accept connections that way). The bytes
 * after the header, read with it, go back into the socket (`unshift`), and
 * the socket is paused again: whoever reads next gets the client's data
 * from its first byte.
 *
 * @returns The header.
 * @throws ProxyProtocolError: `malformed` (refused as soon as it cannot be
 *   a header), `timeout` (not complete within `timeoutMs`), `ended` (the
 *   peer closed or reset first). The caller closes the connection.
 */
export function readProxyHeader(socket: Socket, accept: ProxyProtocolVersion, timeoutMs: number): Promise<ProxyHeader> {
  return new Promise((resolve, reject) => {
    let received = NOTHING
    const stop = (): void => {
      clearTimeout(timer)
      socket.off('readable', onReadable)
      socket.off('end', onEnd)
      socket.off('close', onEnd)
      socket.off('error', onError)
    }
    const fail = (error: ProxyProtocolError): void => {
      stop()
      reject(error)
    }
    // Paused mode ('readable' and read()), not flowing: the socket is never
    // paused and resumed again, so the reader after us starts without
    // stopping and restarting the socket's reads.
    const onReadable = (): void => {
      for (;;) {
        const chunk = socket.read() as Buffer | null
        if (chunk === null) return
        received = received.length === 0 ? chunk : Buffer.concat([received, chunk])
        let parsed: ReturnType<typeof parseProxyHeader>
        try {
          parsed = parseProxyHeader(received, accept)
        } catch (error) {
          fail(error as ProxyProtocolError)
          return
        }
        if (parsed === undefined) continue
        stop()
        if (parsed.length < received.length) socket.unshift(received.subarray(parsed.length))
        resolve(parsed.header)
        return
      }
    }
    const onEnd = (): void =>
      fail(
        new ProxyProtocolError(
          'ended',
          `the peer ended the connection after ${received.length} bytes, before its PROXY header was complete`,
        ),
      )
    const onError = (error: Error): void =>
      fail(
        new ProxyProtocolError('ended', `the connection failed before its PROXY header was complete (${error.message})`, undefined, {
          cause: error,
        }),
      )
    const timer = setTimeout(
      () =>
        fail(
          new ProxyProtocolError(
            'timeout',
            `its PROXY header was not complete within proxyHeaderTimeoutMs (${timeoutMs} ms; ${received.length} bytes came)`,
          ),
        ),
      timeoutMs,
    )
    socket.on('readable', onReadable)
    socket.once('end', onEnd)
    socket.once('close', onEnd)
    socket.on('error', onError)
    if (socket.destroyed || socket.readableEnded) onEnd()
  })
}
