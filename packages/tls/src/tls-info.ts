/**
 * What a request served over TLS says about its connection.
 *
 * @module
 */

import type { PeerCertificate, TLSSocket } from 'node:tls'
import type { StreamRequest } from '@socketserver/core'

/** The facts of a TLS connection, as `request.tls`. */
export interface TLSInfo {
  /** The version agreed on: `TLSv1.2`, `TLSv1.3`. */
  readonly protocol: string | null
  /** The cipher suite: `{ name, standardName, version }`. */
  readonly cipher: ReturnType<TLSSocket['getCipher']>
  /** The ALPN protocol agreed on, or false. */
  readonly alpnProtocol: string | false
  /** The server name the client asked for (SNI), or false. */
  readonly servername: string | false
  /** Whether the client's certificate was signed by the `ca` (false when it sent none, or none was asked for). */
  readonly authorized: boolean
  /** Why it was not, as OpenSSL's code (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, ...), when it sent one. */
  readonly authorizationError: string | undefined
  /** The client's certificate, when it sent one: `peerCertificate.subject.CN` names the client. */
  readonly peerCertificate: PeerCertificate | undefined
  /** Whether the session was resumed (no full handshake). */
  readonly resumed: boolean
}

/** A stream request over TLS. */
export type TLSStreamRequest = StreamRequest & { readonly tls: TLSInfo }

/** Reads the facts of an established TLS socket. @internal */
export function tlsInfoOf(socket: TLSSocket): TLSInfo {
  const certificate = socket.getPeerCertificate()
  const error = socket.authorizationError as Error | string | null | undefined
  return {
    protocol: socket.getProtocol(),
    cipher: socket.getCipher(),
    alpnProtocol: socket.alpnProtocol ?? false,
    servername: (socket as TLSSocket & { servername?: string | false }).servername || false,
    authorized: socket.authorized,
    authorizationError:
      error === null || error === undefined
        ? undefined
        : typeof error === 'string'
          ? error
          : ((error as { code?: string }).code ?? error.message),
    peerCertificate: certificate !== null && Object.keys(certificate).length > 0 ? certificate : undefined,
    resumed: socket.isSessionReused(),
  }
}
