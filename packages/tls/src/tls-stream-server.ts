/**
 * A stream server whose connections speak TLS: a wrapper over any stream
 * server, built on core's `WrappingServer`.
 *
 * @module
 */

import diagnosticsChannel from 'node:diagnostics_channel'
import type { Socket } from 'node:net'
import tls from 'node:tls'
import { requestFacts, type Server, type StreamRequest, streamRequest, WrappingServer } from '@socketserver/core'
import { TLSHandshakeError, type TLSHandshakeFailure } from './errors.js'
import { type ResolvedTLSOptions, resolveTLSOptions, type TLSOptions } from './options.js'
import { type TLSStreamRequest, tlsInfoOf } from './tls-info.js'

/** Published on `socketserver:tls:refused` (`{ server, clientAddress, error }`) for each failed handshake. */
export const tlsRefusedChannel: diagnosticsChannel.Channel = diagnosticsChannel.channel('socketserver:tls:refused')

/** What the wrapper took, established and refused. */
export interface TLSStats {
  /** Connections taken from the wrapped server. */
  received: number
  /** Handshakes completed. */
  established: number
  /** Handshakes running now. */
  handshaking: number
  /** Established, waiting for a consumer now. */
  waiting: number
  /** Failed handshakes, by reason. */
  refused: Record<TLSHandshakeFailure, number>
  /** Dropped unserved because the wrapper closed while they were in the handshake or waiting. */
  droppedOnClose: number
}

/** What a handshake waits for: the request it is for, and how it ends. */
interface Handshake {
  readonly request: StreamRequest
  readonly resolve: (socket: tls.TLSSocket) => void
  readonly reject: (error: TLSHandshakeError) => void
}

/**
 * Wraps a stream server (TCP, Unix stream, or a PROXY wrapper: TLS comes
 * after the PROXY header) so that its connections speak TLS. See
 * {@link TLSStreamServer}.
 *
 * @param server - A listening stream server.
 * @param options - Key and certificate, client certificates, ALPN, limits.
 * @returns The wrapper, a `Server` of {@link TLSStreamRequest}s.
 * @throws InvalidOptionError for bad options, a key that does not match its certificate included.
 * @example
 * ```ts
 * const server = withTLS(await TCPServer.listen({ port: 0 }), { key, cert })
 * await serve(server, (request) => request.sink(request.source), { signal })
 * ```
 */
export function withTLS<R extends StreamRequest>(server: Server<R>, options: TLSOptions): TLSStreamServer<R> {
  return new TLSStreamServer(server, options)
}

/**
 * A server of another stream server's connections, each handed out once
 * its TLS handshake is done. Handshakes run off the accept path, many at
 * once (up to `maxPendingHandshakes`), never in a policy slot, each within
 * `handshakeTimeoutMs`: a client that stalls its handshake cannot stall a
 * `sequential()` server. Node's own `tls.Server` does each handshake (the
 * certificate checks, SNI, ALPN, session resumption are Node's), on the
 * connection the wrapped server accepted.
 *
 * The request handed out reads and writes the TLS socket (`request.socket`
 * is a `tls.TLSSocket`), keeps the wrapped request's `clientAddress` and the
 * facts other wrappers added (`proxyAddress`, `proxy`), and says what was
 * agreed in `request.tls`.
 *
 * A failed handshake (`TLSHandshakeError`: `timeout`, `unauthorized`,
 * `failed`, `ended`) closes the connection, is counted in `stats` and
 * published on `socketserver:tls:refused`; it reaches `handleError` only
 * with `reportHandshakeErrors`, else at most one line per
 * `handshakeReportIntervalMs` sums them up on stderr.
 *
 * Every policy takes these requests. Under `forked()` the session stays in
 * this process (a TLS session cannot be handed to another), and the child
 * reads and writes the plaintext through a relay.
 */
export class TLSStreamServer<R extends StreamRequest = StreamRequest> extends WrappingServer<R, TLSStreamRequest> {
  readonly #tls: tls.Server
  /** The options in force: the constructor's, then each successful reload's. */
  #options: ResolvedTLSOptions
  /** The certificates by server name; replaced by reloadTLS(). */
  #sni: ReadonlyMap<string, tls.SecureContext>
  /** With strictSNI, the names we have a certificate for; replaced by reloadTLS(). */
  #knownName: ((name: string) => boolean) | undefined
  /** The handshake of each raw socket, until it ends. */
  readonly #handshakes = new Map<Socket, Handshake>()
  readonly #counts = { received: 0, established: 0, refused: { timeout: 0, unauthorized: 0, failed: 0, ended: 0 } }
  #lastLineAt = Number.NEGATIVE_INFINITY
  #unprinted = 0

  /**
   * @param server - The stream server to wrap.
   * @param options - See {@link TLSOptions}.
   * @throws InvalidOptionError for bad options.
   */
  constructor(server: Server<R>, options: TLSOptions) {
    const resolved = resolveTLSOptions(options)
    super(server, resolved.maxPendingHandshakes)
    this.#options = resolved
    this.#sni = resolved.sniContexts
    this.#knownName = resolved.knownName
    // Never listens: connections are handed to it (`emit('connection')`,
    // as Node documents for giving a server a socket of your own).
    this.#tls = tls.createServer({
      ...resolved.server,
      SNICallback: (name, done) => {
        if (this.#knownName !== undefined && !this.#knownName(name)) {
          done(
            Object.assign(
              new Error(`the client asked for the server name ${JSON.stringify(name)}, which no certificate here is for (strictSNI)`),
              { code: 'SS_ERR_UNKNOWN_SERVERNAME' },
            ),
          )
          return
        }
        done(null, this.#sni.get(name.toLowerCase()))
      },
    })
    this.#tls.on('secureConnection', (secure: tls.TLSSocket) => this.#established(secure))
    this.#tls.on('tlsClientError', (error: Error, secure: tls.TLSSocket) => this.#failed(secure, error))
  }

  /** What was taken, established, refused and dropped (a snapshot). */
  get stats(): Readonly<TLSStats> {
    const { received, established, refused } = this.#counts
    return {
      received,
      established,
      refused: { ...refused },
      handshaking: this.preparing,
      waiting: this.waiting,
      droppedOnClose: this.droppedOnClose,
    }
  }

  /**
   * Replaces the key, certificate, CA and SNI certificates without a
   * restart: handshakes from now on use the new ones, connections already
   * open keep theirs. The other options stay as they were. A set that
   * cannot be used (a key that is not the certificate's, unreadable PEM)
   * is refused and the last good one stays.
   *
   * @param options - The new `key`, `cert`, and optionally `ca` and `sni`.
   * @throws InvalidOptionError when the new set cannot be used; nothing changed.
   * @example
   * ```ts
   * process.on('SIGHUP', () => server.reloadTLS({ key: readFileSync(keyPath), cert: readFileSync(certPath) }))
   * ```
   */
  reloadTLS(options: Pick<TLSOptions, 'key' | 'cert' | 'ca' | 'sni'>): void {
    const current = this.#options
    const next = resolveTLSOptions({
      ...options,
      clientCertificate: current.requireClientCertificate ? 'require' : current.server.requestCert === true ? 'request' : 'none',
      ca: options.ca ?? (current.server.ca as TLSOptions['ca']),
      minVersion: current.server.minVersion as TLSOptions['minVersion'],
    })
    this.#tls.setSecureContext({ ...next.server })
    this.#options = { ...current, server: { ...current.server, ...next.server }, sniContexts: next.sniContexts }
    this.#sni = next.sniContexts
    if (this.#knownName !== undefined) this.#knownName = resolveTLSOptions({ ...options, strictSNI: true }).knownName
  }

  /** Runs one connection's handshake. */
  protected override prepare(request: R): Promise<TLSStreamRequest> {
    this.#counts.received++
    const raw = request.socket
    return new Promise<tls.TLSSocket>((resolve, reject) => {
      if (raw.destroyed) {
        reject(new TLSHandshakeError('ended', 'the client closed the connection before the handshake', request.clientAddress))
        return
      }
      this.#handshakes.set(raw, { request, resolve, reject })
      // A connection that closes before the TLS layer says anything.
      raw.once('close', () => this.#ended(raw))
      // A FIN during the handshake ends it (the TLS socket takes this from
      // the connection); half-closing is allowed again once it is done
      // (streamRequest() sets it on the TLS socket).
      raw.allowHalfOpen = false
      this.#tls.emit('connection', raw)
    }).then((secure) => this.#requestOver(secure, request))
  }

  /** Counts and publishes a failed handshake; reports it, or sums it up on stderr. */
  protected override refused(request: R, error: unknown): boolean {
    void request
    if (!(error instanceof TLSHandshakeError)) return true
    this.#counts.refused[error.reason]++
    if (tlsRefusedChannel.hasSubscribers) tlsRefusedChannel.publish({ server: this, clientAddress: error.clientAddress, error })
    if (this.#options.reportHandshakeErrors) return true
    this.#sumUp(error)
    return false
  }

  /** The request handed out: over the TLS socket, with the wrapped request's address and facts, and `tls`. */
  #requestOver(secure: tls.TLSSocket, request: R): TLSStreamRequest {
    this.#counts.established++
    const secured = Object.assign(streamRequest(secure, request.clientAddress, this), requestFacts(request)) as unknown as TLSStreamRequest
    Object.defineProperty(secured, 'tls', { value: tlsInfoOf(secure), enumerable: true })
    return secured
  }

  #established(secure: tls.TLSSocket): void {
    const handshake = this.#handshakeOf(secure)
    if (handshake === undefined) {
      secure.destroy()
      return
    }
    // Node checks the certificate and says so; refusing is ours, so that
    // a refusal is told apart from the client leaving (Node's own refusal
    // closes the socket without a word).
    if (this.#options.requireClientCertificate && !secure.authorized) {
      const why = String(secure.authorizationError ?? 'no certificate')
      secure.destroy()
      handshake.reject(
        new TLSHandshakeError('unauthorized', `the client certificate was refused (${why})`, handshake.request.clientAddress),
      )
      return
    }
    handshake.resolve(secure)
  }

  #failed(secure: tls.TLSSocket, error: Error): void {
    const handshake = this.#handshakeOf(secure)
    if (handshake === undefined) return
    handshake.reject(handshakeError(error, secure, handshake.request))
  }

  /** The raw socket closed: if its handshake had not ended, the client left first. */
  #ended(raw: Socket): void {
    const handshake = this.#handshakes.get(raw)
    if (handshake === undefined) return
    this.#handshakes.delete(raw)
    handshake.reject(
      new TLSHandshakeError('ended', 'the client closed the connection during the handshake', handshake.request.clientAddress),
    )
  }

  /**
   * The handshake a TLS socket of our `tls.Server` belongs to, ended here.
   * Node keeps the socket a `TLSSocket` was made from as `_parent`; it is
   * the one link from the server's events back to the connection (checked
   * by the tests, which fail if Node drops it).
   */
  #handshakeOf(secure: tls.TLSSocket): Handshake | undefined {
    const raw = (secure as tls.TLSSocket & { _parent?: Socket })._parent
    if (raw === undefined) return undefined
    const handshake = this.#handshakes.get(raw)
    this.#handshakes.delete(raw)
    return handshake
  }

  /** At most one line per interval: the latest failure, and how many came since the last line. */
  #sumUp(error: TLSHandshakeError): void {
    if (error.reason === 'ended') return
    const now = performance.now()
    if (now - this.#lastLineAt < this.#options.reportIntervalMs) {
      this.#unprinted++
      return
    }
    const more = this.#unprinted === 0 ? '' : `; ${this.#unprinted} more failed since the last such line`
    this.#unprinted = 0
    this.#lastLineAt = now
    try {
      process.stderr.write(
        `socketserver: ${error.message}${more} (at most one line per ${this.#options.reportIntervalMs} ms; reportHandshakeErrors: true passes each to handleError)\n`,
      )
    } catch {
      // stderr closed: nowhere to report.
    }
  }
}

/** The TLS layer's error, as a `TLSHandshakeError` with its reason. */
function handshakeError(error: Error, secure: tls.TLSSocket, request: StreamRequest): TLSHandshakeError {
  const code = (error as { code?: string }).code ?? ''
  const peer = request.clientAddress
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT')
    return new TLSHandshakeError('timeout', 'it did not complete within handshakeTimeoutMs', peer, { cause: error })
  const authorization = (secure as tls.TLSSocket & { authorizationError?: unknown }).authorizationError
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' || (authorization !== undefined && authorization !== null)) {
    return new TLSHandshakeError('unauthorized', `the client certificate was refused (${authorization ?? code})`, peer, { cause: error })
  }
  if (code === 'ECONNRESET' || code === 'EPIPE')
    return new TLSHandshakeError('ended', `the client left during the handshake (${code})`, peer, { cause: error })
  return new TLSHandshakeError('failed', `${code || error.name}: ${error.message.split('\n')[0]}`, peer, { cause: error })
}
