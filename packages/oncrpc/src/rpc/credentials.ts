/**
 * Credentials and verifiers (`opaque_auth`, RFC 5531 sections 8.2 and 14):
 * AUTH_NONE, AUTH_SYS read into their fields, any other flavour kept as
 * bytes.
 *
 * @module
 */

import { hostname } from 'node:os'
import { XdrError } from '../xdr/xdr-error.js'
import { XdrReader } from '../xdr/xdr-reader.js'
import { XdrWriter } from '../xdr/xdr-writer.js'
import { AuthFlavor, MAX_AUTH_BYTES } from './rpc-constants.js'

/** No credentials (AUTH_NONE). */
export interface NoCredential {
  readonly flavor: 'none'
}

/**
 * AUTH_SYS (once AUTH_UNIX) credentials: who the caller says it is, on its
 * own machine. Not proof of anything over a network; on a Unix socket or
 * loopback, as good as the caller's host.
 */
export interface SysCredential {
  readonly flavor: 'sys'
  /** An arbitrary id the caller's machine chose (often a time). */
  readonly stamp: number
  /** The caller's host name (at most 255 bytes). */
  readonly machineName: string
  /** The caller's effective user id. */
  readonly uid: number
  /** Its effective group id. */
  readonly gid: number
  /** Its supplementary groups (at most 16). */
  readonly gids: readonly number[]
}

/** Credentials of a flavour this library does not read (RPCSEC_GSS, AUTH_DH, ...): the flavour's number and the body's bytes. */
export interface OtherCredential {
  readonly flavor: 'other'
  readonly number: number
  readonly body: Uint8Array
}

/** A call's credentials. */
export type Credential = NoCredential | SysCredential | OtherCredential

/** A verifier (or credential) as it is on the wire: a flavour and up to 400 bytes. */
export interface OpaqueAuth {
  readonly flavor: number
  readonly body: Uint8Array
}

/** AUTH_NONE, the credential of a call that gives none. */
export const AUTH_NONE: NoCredential = Object.freeze({ flavor: 'none' })

/** An AUTH_NONE verifier. */
export const NO_VERIFIER: OpaqueAuth = Object.freeze({ flavor: AuthFlavor.AUTH_NONE, body: new Uint8Array(0) })

const MAX_MACHINE_NAME = 255
const MAX_GIDS = 16

/**
 * Reads an `opaque_auth`: its flavour and body.
 *
 * @throws XdrError for a body over 400 bytes, or too few bytes.
 */
export function readOpaqueAuth(reader: XdrReader, what: string): OpaqueAuth {
  const flavor = reader.uint32(`the ${what}'s flavour`)
  const length = reader.uint32(`the ${what}'s length`)
  if (length > MAX_AUTH_BYTES) throw new XdrError(`Cannot decode the ${what}: ${length} bytes, over the 400 allowed`)
  return { flavor, body: reader.bytes(length, `the ${what}`) }
}

/**
 * What a call's credential says, from its `opaque_auth`.
 *
 * @returns The credential, or undefined when an AUTH_SYS body is malformed (the call is refused with AUTH_BADCRED).
 */
export function credentialOf(auth: OpaqueAuth): Credential | undefined {
  if (auth.flavor === AuthFlavor.AUTH_NONE) return AUTH_NONE
  if (auth.flavor !== AuthFlavor.AUTH_SYS) return { flavor: 'other', number: auth.flavor, body: auth.body.slice() }
  try {
    const reader = new XdrReader(auth.body)
    const stamp = reader.uint32()
    const nameLength = reader.uint32()
    if (nameLength > MAX_MACHINE_NAME) return undefined
    const machineName = Buffer.from(reader.bytes(nameLength, 'the machine name')).toString('latin1')
    const uid = reader.uint32()
    const gid = reader.uint32()
    const count = reader.uint32()
    if (count > MAX_GIDS) return undefined
    const gids: number[] = []
    for (let i = 0; i < count; i++) gids.push(reader.uint32())
    if (reader.remaining !== 0) return undefined
    return { flavor: 'sys', stamp, machineName, uid, gid, gids }
  } catch {
    return undefined
  }
}

/**
 * Writes a credential as an `opaque_auth`, for a client's call.
 *
 * @throws XdrError for a field out of range (a machine name over 255 bytes, more than 16 groups).
 */
export function writeCredential(credential: Credential, writer: XdrWriter): void {
  if (credential.flavor === 'none') {
    writer.uint32(AuthFlavor.AUTH_NONE)
    writer.uint32(0)
    return
  }
  if (credential.flavor === 'other') {
    if (credential.body.length > MAX_AUTH_BYTES)
      throw new XdrError(`Cannot encode a credential of ${credential.body.length} bytes: at most 400`)
    writer.uint32(credential.number)
    writer.uint32(credential.body.length)
    writer.bytes(credential.body)
    return
  }
  const name = Buffer.from(credential.machineName, 'latin1')
  if (name.length > MAX_MACHINE_NAME) throw new XdrError(`Cannot encode AUTH_SYS: the machine name has ${name.length} bytes, at most 255`)
  if (credential.gids.length > MAX_GIDS) throw new XdrError(`Cannot encode AUTH_SYS: ${credential.gids.length} groups, at most 16`)
  const body = new XdrWriter(64)
  body.uint32(credential.stamp >>> 0)
  body.uint32(name.length)
  body.bytes(name)
  body.uint32(credential.uid >>> 0)
  body.uint32(credential.gid >>> 0)
  body.uint32(credential.gids.length)
  for (const gid of credential.gids) body.uint32(gid >>> 0)
  const bytes = body.result()
  writer.uint32(AuthFlavor.AUTH_SYS)
  writer.uint32(bytes.length)
  writer.bytes(bytes)
}

/**
 * AUTH_SYS credentials of this process: its uid, gid, groups and host name,
 * as libtirpc's `authunix_create_default()` makes them.
 *
 * @example
 * ```ts
 * const client = await RpcClient.connect({ transport: 'tcp', host: '127.0.0.1', port, program, version, credential: sysCredential() })
 * ```
 */
export function sysCredential(overrides: Partial<Omit<SysCredential, 'flavor'>> = {}): SysCredential {
  const groups = typeof process.getgroups === 'function' ? process.getgroups().slice(0, MAX_GIDS) : []
  return {
    flavor: 'sys',
    stamp: overrides.stamp ?? Math.floor(Date.now() / 1000) >>> 0,
    machineName: overrides.machineName ?? hostname().slice(0, MAX_MACHINE_NAME),
    uid: overrides.uid ?? process.getuid?.() ?? 0,
    gid: overrides.gid ?? process.getgid?.() ?? 0,
    gids: overrides.gids ?? groups,
  }
}
