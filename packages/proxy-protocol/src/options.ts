/**
 * The options of `withProxyProtocol()`, their defaults and their checks.
 *
 * @module
 */

import { InvalidOptionError } from '@socketserver/core'
import type { ProxyProtocolVersion } from './parse.js'

/**
 * How long a connection may take to send its whole header: 3 s, the
 * minimum the specification asks receivers to allow (section 2.2 of
 * HAProxy's proxy-protocol.txt), and short enough that a client that sends
 * nothing cannot hold a descriptor for long.
 */
export const DEFAULT_PROXY_HEADER_TIMEOUT_MS = 3_000

/**
 * How many connections may be reading their header, or wait with it read
 * for a consumer, at once: beyond it the wrapper stops taking connections
 * from the server it wraps, so they wait in its bounded queue and then the
 * kernel's backlog. As many as our servers keep waiting by default.
 */
export const DEFAULT_MAX_PENDING_HEADERS = 1_024

/** Options of `withProxyProtocol()`. */
export interface ProxyProtocolOptions {
  /** Which versions to accept. Default `any` (told apart by their first bytes). */
  version?: ProxyProtocolVersion
  /**
   * Peers whose header is believed: addresses and CIDR networks. A list
   * replaces the default, {@link DEFAULT_TRUSTED_PROXIES} (loopback only).
   * Unix-socket peers are always trusted (the file's `mode` decides who may
   * connect). Anyone else is refused before a byte is read.
   */
  trustedProxies?: readonly string[]
  /** Milliseconds for the whole header. Default {@link DEFAULT_PROXY_HEADER_TIMEOUT_MS}. */
  proxyHeaderTimeoutMs?: number
  /** Connections reading or holding a read header at once. Default {@link DEFAULT_MAX_PENDING_HEADERS}. */
  maxPendingHeaders?: number
}

/** Checked options, with the defaults filled in. @internal */
export interface ResolvedProxyProtocolOptions {
  readonly version: ProxyProtocolVersion
  readonly trustedProxies: readonly string[] | undefined
  readonly proxyHeaderTimeoutMs: number
  readonly maxPendingHeaders: number
}

/**
 * Checks the options (trusted proxies are checked where they are parsed).
 *
 * @internal
 * @throws InvalidOptionError naming the option.
 */
export function resolveProxyProtocolOptions(options: ProxyProtocolOptions): ResolvedProxyProtocolOptions {
  const version = options.version ?? 'any'
  if (version !== 'v1' && version !== 'v2' && version !== 'any') {
    throw new InvalidOptionError('version', `Cannot accept PROXY version ${JSON.stringify(version)}: expected v1, v2 or any`)
  }
  const maxPendingHeaders = options.maxPendingHeaders ?? DEFAULT_MAX_PENDING_HEADERS
  if (!Number.isSafeInteger(maxPendingHeaders) || maxPendingHeaders < 1) {
    throw new InvalidOptionError(
      'maxPendingHeaders',
      `Cannot use maxPendingHeaders ${JSON.stringify(maxPendingHeaders)}: expected an integer of 1 or more`,
    )
  }
  return {
    version,
    trustedProxies: options.trustedProxies,
    proxyHeaderTimeoutMs: milliseconds('proxyHeaderTimeoutMs', options.proxyHeaderTimeoutMs ?? DEFAULT_PROXY_HEADER_TIMEOUT_MS),
    maxPendingHeaders,
  }
}

function milliseconds(option: string, value: number): number {
  if (typeof value !== 'number' || !(value >= 1 && value <= 2 ** 31 - 1)) {
    throw new InvalidOptionError(option, `Cannot use ${option} ${JSON.stringify(value)}: expected milliseconds from 1 to ${2 ** 31 - 1}`)
  }
  return value
}
