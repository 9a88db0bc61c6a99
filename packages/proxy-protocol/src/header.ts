/**
 * What a PROXY protocol header says: the shape both versions parse into.
 *
 * @module
 */

import type { SocketAddress } from '@socketserver/core'

/**
 * One type-length-value field of a version 2 header. `type` is the
 * registered number (`PP2_TYPE_*`, see {@link TLV_TYPES}), `value` the raw
 * bytes, a view into the header.
 */
export interface ProxyTLV {
  /** The TLV's type, `PP2_TYPE_*`. */
  readonly type: number
  /** Its value's bytes. */
  readonly value: Uint8Array
}

/** What the proxy learnt of the TLS connection it terminated (`PP2_TYPE_SSL`). */
export interface ProxySSLInfo {
  /** The client connected over TLS (`PP2_CLIENT_SSL`). */
  readonly ssl: boolean
  /** The client sent a certificate on this connection (`PP2_CLIENT_CERT_CONN`). */
  readonly clientCertificateOnConnection: boolean
  /** The client sent a certificate on this session, maybe an earlier connection (`PP2_CLIENT_CERT_SESS`). */
  readonly clientCertificateOnSession: boolean
  /** Whether the client's certificate verified: the proxy's `verify` field was 0. */
  readonly verified: boolean
  /** `PP2_SUBTYPE_SSL_VERSION`: `TLSv1.3`, ... */
  readonly version?: string
  /** `PP2_SUBTYPE_SSL_CN`: the client certificate's common name. */
  readonly commonName?: string
  /** `PP2_SUBTYPE_SSL_CIPHER`. */
  readonly cipher?: string
  /** `PP2_SUBTYPE_SSL_SIG_ALG`. */
  readonly signatureAlgorithm?: string
  /** `PP2_SUBTYPE_SSL_KEY_ALG`. */
  readonly keyAlgorithm?: string
}

/**
 * A parsed PROXY protocol header.
 *
 * `command` is `proxy` when the proxy relays a client (then `source` is
 * that client and `destination` the address it connected to), `local` when
 * the connection is the proxy's own (a health check; version 2's `LOCAL`,
 * or version 1's `UNKNOWN`): then there are no addresses, and the
 * connection's own peer stands.
 */
export interface ProxyHeader {
  /** Which version of the protocol the header was. */
  readonly version: 1 | 2
  /** `proxy`: a relayed client; `local`: the proxy's own connection. */
  readonly command: 'proxy' | 'local'
  /** The transport the client used, as the proxy says: `stream` (TCP or Unix stream), `datagram`, or `unspecified`. */
  readonly transport: 'stream' | 'datagram' | 'unspecified'
  /** The original client; undefined for `local` (and for version 2's `UNSPEC` family). */
  readonly source: SocketAddress | undefined
  /** Where the client connected (the proxy's listener); undefined when `source` is. */
  readonly destination: SocketAddress | undefined
  /** Version 2's TLVs in header order (none for version 1), the CRC32C and NOOP ones included. */
  readonly tlvs: readonly ProxyTLV[]
  /** `PP2_TYPE_ALPN`, as text. */
  readonly alpn?: string
  /** `PP2_TYPE_AUTHORITY`: the host name the client asked for (TLS SNI), as text. */
  readonly authority?: string
  /** `PP2_TYPE_UNIQUE_ID`: the proxy's id for this connection, at most 128 bytes. */
  readonly uniqueId?: Uint8Array
  /** `PP2_TYPE_NETNS`: the network namespace the proxy accepted the client in. */
  readonly netns?: string
  /** `PP2_TYPE_SSL`, parsed. */
  readonly ssl?: ProxySSLInfo
}

/** The registered TLV types of version 2 (HAProxy's proxy-protocol.txt, section 2.2). */
export const TLV_TYPES = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  SSL_VERSION: 0x21,
  SSL_CN: 0x22,
  SSL_CIPHER: 0x23,
  SSL_SIG_ALG: 0x24,
  SSL_KEY_ALG: 0x25,
  NETNS: 0x30,
} as const
