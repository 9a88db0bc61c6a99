/**
 * The text form of a socket address, as messages and the CLI print it. A
 * leaf: it imports nothing at run time, so that the errors module can name
 * addresses in its messages without depending on the address parser.
 *
 * @module
 */

import type { Address } from './address.js'

/**
 * Formats an address the way the CLI prints it: `127.0.0.1:7`, `[::1]:7`,
 * `/tmp/x.sock`, `@name` for a Linux abstract name, `(unnamed)` for an
 * unbound Unix peer, `an unknown client (...)` for a TCP client whose
 * address is not known (an empty host), and a source's name
 * (`sqlite:jobs.db`).
 *
 * @param address - Any address.
 * @returns The text form.
 * @example
 * ```ts
 * formatAddress({ transport: 'tcp', host: '::1', port: 7, family: 'IPv6' }) // '[::1]:7'
 * ```
 */
export function formatAddress(address: Address): string {
  if (address.transport === 'source') return address.name
  if ('path' in address) {
    if (address.path === null || address.path === '') return '(unnamed)'
    return address.path.startsWith('\0') ? `@${address.path.slice(1)}` : address.path
  }
  // Said in words, not as ":0", which reads as a port nobody connected from (#16).
  if (address.host === '') return 'an unknown client (it reset the connection before its address was read)'
  return address.family === 'IPv6' ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}
