/**
 * The options of `withTLS()`, their defaults, and the `tls.Server` options
 * they become.
 *
 * @module
 */

import { X509Certificate } from 'node:crypto'
import tls from 'node:tls'
import { InvalidOptionError } from '@socketserver/core'

/** PEM text or bytes, or several. */
export type PEM = string | Buffer | Array<string | Buffer>

/** A key and the certificate (chain) that goes with it. */
export interface KeyAndCertificate {
  /** The private key, PEM. */
  key: PEM
  /** The certificate, PEM, with its intermediates after it. */
  cert: PEM
}

/**
 * How long a handshake may take: 10 s. Node's own default is 120 s, long
 * enough for a client that never speaks to hold a descriptor for two
 * minutes; ten seconds covers a slow mobile network's full handshake.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000

/** How many handshakes may run (or wait, done, for a consumer) at once: as many as our servers keep waiting. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 1_024

/** How often, at most, failed handshakes are summed up on stderr when they are not reported one by one. */
export const DEFAULT_HANDSHAKE_REPORT_INTERVAL_MS = 10_000

/** Options of `withTLS()`. */
export interface TLSOptions extends KeyAndCertificate {
  /** The certificate authorities client certificates must be signed by (with `clientCertificate`). */
  ca?: PEM
  /**
   * Other keys and certificates by server name (SNI): a client that asks
   * for `example.org` gets `sni['example.org']`; any other name, or none,
   * gets `key` and `cert`.
   */
  sni?: Readonly<Record<string, KeyAndCertificate>>
  /**
   * Refuse a handshake whose client asks (SNI) for a name that neither
   * `sni` nor the default certificate (its subject alternative names) is
   * for, instead of answering with the default certificate. A client that
   * names no server still gets the default. Default false.
   */
  strictSNI?: boolean
  /**
   * Client certificates: `none` (default), `request` (asked for; the
   * handler reads `request.tls.authorized`), or `require` (a client
   * without one the `ca` signed never reaches a handler).
   */
  clientCertificate?: 'none' | 'request' | 'require'
  /** ALPN protocols offered, most preferred first (`['h2', 'http/1.1']`). */
  alpnProtocols?: readonly string[]
  /** The oldest TLS version accepted. Default `TLSv1.2`. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3'
  /** Milliseconds for a whole handshake. Default {@link DEFAULT_HANDSHAKE_TIMEOUT_MS}. */
  handshakeTimeoutMs?: number
  /** Handshakes running or done and waiting, at once. Default {@link DEFAULT_MAX_PENDING_HANDSHAKES}. */
  maxPendingHandshakes?: number
  /** Pass every failed handshake to `serve()`'s `handleError` as a `TLSHandshakeError`. Default false. */
  reportHandshakeErrors?: boolean
  /** At most one summary line on stderr per this many milliseconds when not reporting. Default {@link DEFAULT_HANDSHAKE_REPORT_INTERVAL_MS}. */
  handshakeReportIntervalMs?: number
}

/** Checked options. @internal */
export interface ResolvedTLSOptions {
  readonly server: tls.TlsOptions
  /** `clientCertificate: 'require'`: the wrapper refuses clients Node did not authorize. */
  readonly requireClientCertificate: boolean
  /** The contexts of `sni`, by lower-case name. */
  readonly sniContexts: ReadonlyMap<string, tls.SecureContext>
  /** With `strictSNI`: whether a name the client asks for is one we have a certificate for. */
  readonly knownName: ((name: string) => boolean) | undefined
  readonly maxPendingHandshakes: number
  readonly reportHandshakeErrors: boolean
  readonly reportIntervalMs: number
}

function milliseconds(option: string, value: number): number {
  if (typeof value !== 'number' || !(value >= 1 && value <= 2 ** 31 - 1)) {
    throw new InvalidOptionError(option, `Cannot use ${option} ${JSON.stringify(value)}: expected milliseconds from 1 to ${2 ** 31 - 1}`)
  }
  return value
}

/**
 * Checks the options and builds the `tls.Server` options (a bad key or
 * certificate is refused here, at once).
 *
 * @internal
 * @throws InvalidOptionError naming the option.
 */
export function resolveTLSOptions(options: TLSOptions): ResolvedTLSOptions {
  if (options === null || typeof options !== 'object' || options.key === undefined || options.cert === undefined) {
    throw new InvalidOptionError('cert', 'Cannot serve TLS without a certificate and its key: give key and cert (PEM)')
  }
  const clientCertificate = options.clientCertificate ?? 'none'
  if (clientCertificate !== 'none' && clientCertificate !== 'request' && clientCertificate !== 'require') {
    throw new InvalidOptionError(
      'clientCertificate',
      `Cannot use clientCertificate ${JSON.stringify(clientCertificate)}: expected none, request or require`,
    )
  }
  if (clientCertificate === 'require' && options.ca === undefined) {
    throw new InvalidOptionError('ca', 'Cannot require client certificates without a ca: give the authorities that sign them')
  }
  const minVersion = options.minVersion ?? 'TLSv1.2'
  if (minVersion !== 'TLSv1.2' && minVersion !== 'TLSv1.3') {
    throw new InvalidOptionError('minVersion', `Cannot use minVersion ${JSON.stringify(minVersion)}: expected TLSv1.2 or TLSv1.3`)
  }
  const maxPendingHandshakes = options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES
  if (!Number.isSafeInteger(maxPendingHandshakes) || maxPendingHandshakes < 1) {
    throw new InvalidOptionError(
      'maxPendingHandshakes',
      `Cannot use maxPendingHandshakes ${JSON.stringify(maxPendingHandshakes)}: expected an integer of 1 or more`,
    )
  }
  const contexts = new Map<string, tls.SecureContext>()
  // Each with the same ca: a context without one would check client
  // certificates against Node's default roots instead.
  for (const [name, pair] of Object.entries(options.sni ?? {})) {
    contexts.set(name.toLowerCase(), secureContext('sni', { ...pair, ...(options.ca === undefined ? {} : { ca: options.ca }), minVersion }))
  }
  // Built once here, so that a key that does not match its certificate is refused now.
  secureContext('cert', { key: options.key, cert: options.cert, ca: options.ca, minVersion })
  const server: tls.TlsOptions = {
    key: options.key,
    cert: options.cert,
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    minVersion,
    requestCert: clientCertificate !== 'none',
    // Checked by the wrapper after the handshake (see TLSStreamServer), so
    // that a refused certificate is reported as such.
    rejectUnauthorized: false,
    handshakeTimeout: milliseconds('handshakeTimeoutMs', options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS),
    ...(options.alpnProtocols === undefined ? {} : { ALPNProtocols: [...options.alpnProtocols] }),
    ...(contexts.size === 0
      ? {}
      : {
          SNICallback: (name: string, done: (error: Error | null, context?: tls.SecureContext) => void) =>
            done(null, contexts.get(name.toLowerCase())),
        }),
  }
  return {
    server,
    requireClientCertificate: clientCertificate === 'require',
    sniContexts: contexts,
    knownName: options.strictSNI === true ? knownNameOf(options.cert, contexts) : undefined,
    maxPendingHandshakes,
    reportHandshakeErrors: options.reportHandshakeErrors ?? false,
    reportIntervalMs: milliseconds('handshakeReportIntervalMs', options.handshakeReportIntervalMs ?? DEFAULT_HANDSHAKE_REPORT_INTERVAL_MS),
  }
}

/** Whether a server name is one of `sni`'s or one the default certificate is for. */
function knownNameOf(cert: PEM, contexts: ReadonlyMap<string, tls.SecureContext>): (name: string) => boolean {
  const first = Array.isArray(cert) ? cert[0] : cert
  const certificate = first === undefined ? undefined : new X509Certificate(first)
  return (name) => contexts.has(name.toLowerCase()) || certificate?.checkHost(name) !== undefined
}

function secureContext(option: string, options: tls.SecureContextOptions): tls.SecureContext {
  try {
    return tls.createSecureContext(options)
  } catch (error) {
    throw new InvalidOptionError(option, `Cannot use the key and certificate: ${(error as Error).message}`, { cause: error })
  }
}
