/**
 * The builtin services, by name.
 *
 * @module
 */

/** A builtin service: what it does, and the module whose default export serves it. */
export interface BuiltinService {
  /** The RFC it implements. */
  readonly rfc: number
  /** One line for --help. */
  readonly summary: string
  /** The compiled module (its default export handles streams and datagrams). */
  readonly module: URL
}

const here = (name: string): URL => new URL(`./${name}.js`, import.meta.url)

/** The builtin services of the `socketserver` command. */
export const BUILTIN_SERVICES: Readonly<Record<string, BuiltinService>> = {
  echo: { rfc: 862, summary: 'sends back whatever it receives', module: here('echo') },
  discard: { rfc: 863, summary: 'throws away whatever it receives', module: here('discard') },
  chargen: { rfc: 864, summary: 'sends the printable ASCII pattern until the client closes', module: here('chargen') },
  daytime: { rfc: 867, summary: 'sends the date and time as a line of text', module: here('daytime') },
  time: { rfc: 868, summary: 'sends 4 bytes: seconds since 1900, big-endian', module: here('time') },
  portmap: { rfc: 1833, summary: 'the ONC RPC portmapper (rpcbind versions 2, 3, 4), for rpcinfo', module: here('portmap') },
}
