/**
 * Typed errors of ONC RPC: records that break the framing, calls that
 * cannot be read, and replies that say a call failed.
 *
 * @module
 */

import { SocketServerError } from '@socketserver/core'
import { type AcceptStatusName, AuthStatus, type AuthStatusName, type RejectStatusName, statusName } from './rpc/rpc-constants.js'

/**
 * A record (TCP record marking) longer than the maximum allowed: refused
 * when the fragment header that takes it over is read, before its bytes are
 * buffered. The connection cannot be read further; replies to the calls
 * before it are still sent, then it is closed.
 */
export class RecordTooLargeError extends SocketServerError {
  /** What the record would have reached, in bytes. */
  readonly size: number
  /** The maximum. */
  readonly maxRecordSize: number

  /**
   * @param size - The record's size with the fragment that was refused.
   * @param maxRecordSize - The maximum.
   */
  constructor(size: number, maxRecordSize: number) {
    super(`Cannot read an RPC record of ${size} bytes: the maximum is ${maxRecordSize} (maxRecordSize)`, 'SS_ERR_RPC_RECORD_TOO_LARGE')
    this.size = size
    this.maxRecordSize = maxRecordSize
  }
}

/** The stream ended in the middle of a record: the call it held is lost (there is no one to answer). */
export class IncompleteRecordError extends SocketServerError {
  constructor() {
    super('Cannot read the last RPC record: the connection ended inside it', 'SS_ERR_RPC_INCOMPLETE_RECORD')
  }
}

/**
 * A message that is not a call this server can read (too short, a reply
 * where a call was expected, a credential over 400 bytes): it has no
 * answer RFC 5531 allows, so it is dropped and reported (as rpcbind and
 * libtirpc's servers drop it).
 */
export class MalformedCallError extends SocketServerError {
  /** @param why - What is wrong with it. */
  constructor(why: string, options: { cause?: unknown } = {}) {
    super(`Cannot read an RPC call: ${why}`, 'SS_ERR_RPC_MALFORMED_CALL', options)
  }
}

/**
 * Thrown by a procedure to refuse a call's credentials: the reply is
 * MSG_DENIED with AUTH_ERROR and this status (AUTH_TOOWEAK for a call
 * that needs AUTH_SYS and came with AUTH_NONE, say).
 *
 * @example
 * ```ts
 * SET: (args, call) => {
 *   if (call.credential.flavor !== 'sys' || call.credential.uid !== 0) throw new RpcAuthError('AUTH_TOOWEAK')
 *   return store.set(args)
 * }
 * ```
 */
export class RpcAuthError extends SocketServerError {
  /** The `auth_stat` sent. */
  readonly authStatus: AuthStatusName

  /** @param authStatus - Why the credentials are refused. */
  constructor(authStatus: AuthStatusName) {
    super(`RPC credentials refused: ${authStatus}`, 'SS_ERR_RPC_AUTH')
    this.authStatus = authStatus
  }
}

/** What an {@link RpcReplyError} says went wrong. */
export type RpcFailure = AcceptStatusName | RejectStatusName

/**
 * A reply that is not a success: the server accepted the call but could
 * not run it (PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL, GARBAGE_ARGS,
 * SYSTEM_ERR), or refused it (RPC_MISMATCH, AUTH_ERROR).
 *
 * @example
 * ```ts
 * try { await client.call(7, xdr.void, xdr.void, undefined) } catch (err) {
 *   if (err instanceof RpcReplyError && err.failure === 'PROC_UNAVAIL') console.error('no such procedure')
 * }
 * ```
 */
export class RpcReplyError extends SocketServerError {
  /** The status the reply gave. */
  readonly failure: RpcFailure
  /** For PROG_MISMATCH and RPC_MISMATCH: the lowest and highest versions the server has. */
  readonly versions: { readonly low: number; readonly high: number } | undefined
  /** For AUTH_ERROR: why. */
  readonly authStatus: AuthStatusName | undefined

  /**
   * @param failure - The status.
   * @param details - The versions or the auth status the reply carried.
   */
  constructor(failure: RpcFailure, details: { versions?: { low: number; high: number }; authStatus?: number } = {}) {
    const auth = details.authStatus === undefined ? undefined : (statusName(AuthStatus, details.authStatus) as AuthStatusName)
    const extra =
      details.versions !== undefined
        ? ` (versions ${details.versions.low} to ${details.versions.high})`
        : auth !== undefined
          ? ` (${auth})`
          : ''
    super(`RPC call failed: ${failure}${extra}`, `SS_ERR_RPC_${failure}`)
    this.failure = failure
    this.versions = details.versions
    this.authStatus = auth
  }
}

/** A call not answered in time: over UDP after its retransmissions, over TCP after `timeoutMs`. */
export class RpcTimeoutError extends SocketServerError {
  /**
   * @param what - The call, as "program 100000 version 2 procedure 4".
   * @param timeoutMs - The time it was given.
   */
  constructor(what: string, timeoutMs: number) {
    super(`RPC call to ${what} got no reply within ${timeoutMs} ms`, 'SS_ERR_RPC_TIMEOUT')
  }
}

/** The client's connection closed (or the client was closed) before the reply came. */
export class RpcConnectionClosedError extends SocketServerError {
  /** @param why - What closed it. */
  constructor(why: string, options: { cause?: unknown } = {}) {
    super(`RPC call lost: ${why}`, 'SS_ERR_RPC_CONNECTION_CLOSED', options)
  }
}

/**
 * The portmapper refused a registration (SET answered false: the caller is
 * not on its host, or not the owner of a registration in the way), or could
 * not be reached.
 */
export class PortmapperError extends SocketServerError {
  /** @param message - What was refused, and by whom. */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, 'SS_ERR_RPC_PORTMAPPER', options)
  }
}
