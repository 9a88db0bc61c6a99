/**
 * The numbers of RFC 5531's message protocol: message types, reply and
 * accept statuses, reasons for a refusal, and credential flavours.
 *
 * @module
 */

/** The RPC protocol version every call carries (`rpcvers`), the only one there is. */
export const RPC_VERSION = 2

/** `msg_type`: a call or a reply. */
export const MessageType = { CALL: 0, REPLY: 1 } as const

/** `reply_stat`: the server took the call (it may still have failed), or refused it. */
export const ReplyStatus = { MSG_ACCEPTED: 0, MSG_DENIED: 1 } as const

/** `accept_stat`: how an accepted call went. */
export const AcceptStatus = {
  SUCCESS: 0,
  PROG_UNAVAIL: 1,
  PROG_MISMATCH: 2,
  PROC_UNAVAIL: 3,
  GARBAGE_ARGS: 4,
  SYSTEM_ERR: 5,
} as const

/** The name of an {@link AcceptStatus}. */
export type AcceptStatusName = keyof typeof AcceptStatus

/** `reject_stat`: why a call was refused. */
export const RejectStatus = { RPC_MISMATCH: 0, AUTH_ERROR: 1 } as const

/** The name of a {@link RejectStatus}. */
export type RejectStatusName = keyof typeof RejectStatus

/** `auth_stat`: why the credentials or verifier of a call were refused (RFC 5531 section 9). */
export const AuthStatus = {
  AUTH_OK: 0,
  AUTH_BADCRED: 1,
  AUTH_REJECTEDCRED: 2,
  AUTH_BADVERF: 3,
  AUTH_REJECTEDVERF: 4,
  AUTH_TOOWEAK: 5,
  AUTH_INVALIDRESP: 6,
  AUTH_FAILED: 7,
  AUTH_KERB_GENERIC: 8,
  AUTH_TIMEEXPIRE: 9,
  AUTH_TKT_FILE: 10,
  AUTH_DECODE: 11,
  AUTH_NET_ADDR: 12,
  RPCSEC_GSS_CREDPROBLEM: 13,
  RPCSEC_GSS_CTXPROBLEM: 14,
} as const

/** The name of an {@link AuthStatus}. */
export type AuthStatusName = keyof typeof AuthStatus

/** `auth_flavor`: the kinds of credentials (RFC 5531 section 8.2; the registry has more). */
export const AuthFlavor = { AUTH_NONE: 0, AUTH_SYS: 1, AUTH_SHORT: 2, AUTH_DH: 3, RPCSEC_GSS: 6 } as const

/** The most bytes a credential's or verifier's body may have (`opaque body<400>`). */
export const MAX_AUTH_BYTES = 400

/** The name of a numbered status, or the number when it has none. */
export function statusName(table: Readonly<Record<string, number>>, value: number): string {
  for (const [name, number] of Object.entries(table)) if (number === value) return name
  return String(value)
}
