/**
 * Daytime, RFC 867: the date and time as a line of text.
 *
 * @module
 */

import type { SocketRequest } from '@socketserver/core'

/**
 * The daytime line: a human-readable date in UTC, as the RFC's example
 * format (`Weekday, Month Day, Year HH:MM:SS-UTC`), then CR LF.
 *
 * @param now - The time to describe. Default now.
 * @returns The line.
 * @example
 * ```ts
 * daytimeLine(new Date(0)) // 'Thursday, January 1, 1970 00:00:00-UTC\r\n'
 * ```
 */
export function daytimeLine(now = new Date()): string {
  const date = now.toLocaleDateString('en-US', { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' })
  const two = (n: number): string => String(n).padStart(2, '0')
  const time = `${two(now.getUTCHours())}:${two(now.getUTCMinutes())}:${two(now.getUTCSeconds())}`
  return `${date} ${time}-UTC\r\n`
}

/**
 * Sends the daytime line and closes (stream), or replies it (datagram).
 *
 * @param request - A stream or datagram request.
 * @example
 * ```sh
 * socketserver serve daytime --tcp 127.0.0.1:1313
 * ```
 */
export default async function daytime(request: SocketRequest): Promise<void> {
  if (request.kind === 'datagram') return request.reply(daytimeLine())
  request.socket.write(daytimeLine())
}
