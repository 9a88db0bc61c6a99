/**
 * A stream server whose connections begin with a PROXY protocol header:
 * a wrapper over any stream server, written from the public `Server`
 * contract of `@socketserver/core`.
 *
 * @module
 */

import diagnosticsChannel from 'node:diagnostics_channel'
import { type Server, type StreamRequest, WrappingServer } from '@socketserver/core'
import { ProxyProtocolError, type ProxyProtocolFailure } from './errors.js'
import { type ProxyProtocolOptions, resolveProxyProtocolOptions } from './options.js'
import type { ProxyProtocolVersion } from './parse.js'
import { annotate, type ProxiedFacts } from './proxied-request.js'
import { readProxyHeader } from './read-header.js'
import { DEFAULT_TRUSTED_PROXIES, TrustedProxies } from './trusted-proxies.js'

/** Published on `socketserver:proxy:refused` for each connection refused for its header. */
export const proxyRefusedChannel: diagnosticsChannel.Channel = diagnosticsChannel.channel('socketserver:proxy:refused')

/** What the wrapper took and refused. */
export interface ProxyProtocolStats {
  /** Connections taken from the wrapped server. */
  received: number
  /** Connections whose header was read and accepted. */
  accepted: number
  /** Reading their header now. */
  reading: number
  /** With their header read, waiting for a consumer now. */
  waiting: number
  /** Refused, by reason. */
  refused: Record<ProxyProtocolFailure, number>
  /** Dropped unserved because the wrapper closed while they were reading or waiting. */
  droppedOnClose: number
}

/**
 * Wraps a stream server (TCP, Unix stream, or any `Server` of stream
 * requests) so that every connection must begin with a PROXY protocol
 * header. See {@link ProxyProtocolServer}.
 *
 * @param server - A listening stream server.
 * @param options - Versions, trusted proxies, timeout, bound.
 * @returns The wrapper, a `Server` of {@link ProxiedStreamRequest}s.
 * @throws InvalidOptionError for bad options.
 * @example
 * ```ts
 * const server = withProxyProtocol(await TCPServer.listen({ port: 0 }), { trustedProxies: ['10.0.0.0/8'] })
 * await serve(server, (request) => request.socket.end(`you are ${formatAddress(request.clientAddress)}\n`), { signal })
 * ```
 */
export function withProxyProtocol<R extends StreamRequest>(server: Server<R>, options: ProxyProtocolOptions = {}): ProxyProtocolServer<R> {
  return new ProxyProtocolServer(server, options)
}

/**
 * A server of the connections of another stream server whose PROXY
 * header was read and believed. Each connection's header is read off the
 * accept path, many at once (up to `maxPendingHeaders`) and never in a
 * policy slot, each within `proxyHeaderTimeoutMs`; the request handed out
 * is the wrapped server's own, with `clientAddress` set to the client the
 * proxy relays, `proxyAddress` to the proxy, and `proxy` to the header.
 * No byte after the header is lost or read twice.
 *
 * A connection from a peer not in `trustedProxies`, without a valid
 * header, or too slow with it, is closed and reported as a
 * `ProxyProtocolError`: counted in `stats`, published on
 * `socketserver:proxy:refused`, and told to observers (`serve()` passes it
 * to `handleError`). The server keeps serving.
 *
 * Closing the wrapper closes the wrapped server; connections still reading
 * their header or waiting for a consumer are closed unserved and counted.
 * The wrapped server's drops reach the wrapper's observers too. (The
 * machinery is core's `WrappingServer`; this class reads headers.)
 */
export class ProxyProtocolServer<R extends StreamRequest = StreamRequest> extends WrappingServer<R, R & ProxiedFacts> {
  readonly #version: ProxyProtocolVersion
  readonly #trusted: TrustedProxies
  readonly #timeoutMs: number
  readonly #counts = { received: 0, accepted: 0, refused: { malformed: 0, untrusted: 0, timeout: 0, ended: 0 } }

  /**
   * @param server - The stream server to wrap.
   * @param options - See {@link ProxyProtocolOptions}.
   * @throws InvalidOptionError for bad options.
   */
  constructor(server: Server<R>, options: ProxyProtocolOptions = {}) {
    const resolved = resolveProxyProtocolOptions(options)
    super(server, resolved.maxPendingHeaders)
    this.#version = resolved.version
    this.#trusted = new TrustedProxies(resolved.trustedProxies ?? DEFAULT_TRUSTED_PROXIES)
    this.#timeoutMs = resolved.proxyHeaderTimeoutMs
  }

  /** What was taken, read, refused and dropped (a snapshot). */
  get stats(): Readonly<ProxyProtocolStats> {
    const { received, accepted, refused } = this.#counts
    return {
      received,
      accepted,
      refused: { ...refused },
      reading: this.preparing,
      waiting: this.waiting,
      droppedOnClose: this.droppedOnClose,
    }
  }

  /** The peers whose header is believed, as configured. */
  get trustedProxies(): readonly string[] {
    return this.#trusted.entries
  }

  /** One connection: refused at once if its peer is not trusted, else its header is read. */
  protected override async prepare(request: R): Promise<R & ProxiedFacts> {
    this.#counts.received++
    const peer = request.clientAddress
    if (!this.#trusted.allows(peer)) {
      throw new ProxyProtocolError(
        'untrusted',
        `the peer is not one of trustedProxies (${this.#trusted.entries.join(', ') || 'none'})`,
        peer,
      )
    }
    let header: Awaited<ReturnType<typeof readProxyHeader>>
    try {
      header = await readProxyHeader(request.socket, this.#version, this.#timeoutMs)
    } catch (error) {
      const failure = error as ProxyProtocolError
      throw new ProxyProtocolError(failure.reason, failure.detail, peer, { cause: failure.cause })
    }
    this.#counts.accepted++
    return annotate(request, header)
  }

  /** Counts and publishes a refusal; reports it unless the peer just left. */
  protected override refused(request: R, error: unknown): boolean {
    void request
    if (!(error instanceof ProxyProtocolError)) return true
    this.#counts.refused[error.reason]++
    if (proxyRefusedChannel.hasSubscribers) proxyRefusedChannel.publish({ server: this, clientAddress: error.clientAddress, error })
    // A peer that leaves before its header is complete (a port scan, a
    // health check that only connects) is counted and published, not
    // reported: it would fill stderr.
    return error.reason !== 'ended'
  }
}
