/**
 * From one call message to its reply: finds the program, version and
 * procedure, decodes the arguments, runs the code, encodes the result, and
 * answers every failure as RFC 5531 says.
 *
 * @module
 * @internal
 */

import { InvalidOptionError, type SocketRequest } from '@socketserver/core'
import type { RpcCall, RpcProgram, ServedProcedure } from '../program/implement.js'
import { setRecordMark } from '../record/record-decoder.js'
import type { CallHeader } from '../rpc/messages.js'
import { readCall, writeAccepted, writeDenied, writeProgramMismatch } from '../rpc/messages.js'
import { RpcAuthError } from '../rpc-errors.js'
import { XdrError } from '../xdr/xdr-error.js'
import { XdrWriter } from '../xdr/xdr-writer.js'

/** Told of a call that could not be answered as its caller hoped: a procedure that threw, a result that does not encode, a message that is not a call. */
export type RpcErrorReporter = (error: Error, call: CallHeader | undefined, request: SocketRequest) => void

/** A reply, or the promise of one, or nothing (a message that is not a call gets no reply). */
export type DispatchResult = Uint8Array | Promise<Uint8Array> | undefined

/** Runs calls against a set of programs. */
export class Dispatcher {
  readonly #programs: ReadonlyMap<number, RpcProgram>
  readonly #report: RpcErrorReporter

  constructor(programs: readonly RpcProgram[], report: RpcErrorReporter) {
    const byNumber = new Map<number, RpcProgram>()
    for (const program of programs) {
      const same = byNumber.get(program.number)
      if (same !== undefined) {
        // Two programs of one number may serve different versions, as two registrations with rpcbind may.
        byNumber.set(program.number, mergePrograms(same, program))
      } else byNumber.set(program.number, program)
    }
    this.#programs = byNumber
    this.#report = report
  }

  /**
   * Answers one message.
   *
   * @param message - A record or a datagram.
   * @param request - Where it came from.
   * @param framed - Prefix the reply with a record mark (TCP, Unix stream).
   */
  dispatch(message: Uint8Array, request: SocketRequest, framed: boolean): DispatchResult {
    const read = readCall(message)
    if (read.kind !== 'call') {
      if (read.kind === 'malformed') {
        this.#report(read.error, undefined, request)
        return undefined
      }
      const writer = startReply(framed, 32)
      writeDenied(writer, read.xid, read.kind === 'auth-error' ? read.authStatus : undefined)
      return finishReply(writer, framed)
    }
    const header = read
    const program = this.#programs.get(header.program)
    if (program === undefined) return this.#status(header.xid, 'PROG_UNAVAIL', framed)
    const version = program.versions.get(header.version)
    if (version === undefined) {
      const writer = startReply(framed, 40)
      writeProgramMismatch(writer, header.xid, program.low, program.high)
      return finishReply(writer, framed)
    }
    const procedure = version.procedures.get(header.procedure)
    if (procedure === undefined) return this.#status(header.xid, 'PROC_UNAVAIL', framed)
    let args: unknown
    try {
      args = procedure.args.decode(read.reader)
    } catch (error) {
      // A RangeError: arguments nested deeper than the stack (a recursive type's long chain).
      if (error instanceof XdrError || error instanceof RangeError) return this.#status(header.xid, 'GARBAGE_ARGS', framed)
      throw error
    }
    header.request = request
    const call: RpcCall = header
    let result: unknown
    try {
      result = procedure.run(args, call)
    } catch (error) {
      return this.#failed(error, header, request, framed)
    }
    if (isPromiseLike(result)) {
      return Promise.resolve(result).then(
        (value) => this.#success(procedure, value, header, request, framed),
        (error: unknown) => this.#failed(error, header, request, framed),
      )
    }
    return this.#success(procedure, result, header, request, framed)
  }

  #success(procedure: ServedProcedure, value: unknown, header: CallHeader, request: SocketRequest, framed: boolean): Uint8Array {
    const writer = startReply(framed, 128)
    writeAccepted(writer, header.xid, 'SUCCESS')
    try {
      procedure.result.encode(value, writer)
    } catch (error) {
      const cause = error instanceof Error ? error : new Error(String(error))
      this.#report(new XdrError(`The result of ${procedure.name} cannot be sent: ${cause.message}`), header, request)
      return this.#status(header.xid, 'SYSTEM_ERR', framed)
    }
    return finishReply(writer, framed)
  }

  #failed(error: unknown, header: CallHeader, request: SocketRequest, framed: boolean): Uint8Array {
    if (error instanceof RpcAuthError) {
      const writer = startReply(framed, 32)
      writeDenied(writer, header.xid, error.authStatus)
      return finishReply(writer, framed)
    }
    this.#report(error instanceof Error ? error : new Error(String(error)), header, request)
    return this.#status(header.xid, 'SYSTEM_ERR', framed)
  }

  #status(xid: number, status: 'PROG_UNAVAIL' | 'PROC_UNAVAIL' | 'GARBAGE_ARGS' | 'SYSTEM_ERR', framed: boolean): Uint8Array {
    const writer = startReply(framed, 32)
    writeAccepted(writer, xid, status)
    return finishReply(writer, framed)
  }
}

function startReply(framed: boolean, capacity: number): XdrWriter {
  const writer = new XdrWriter(capacity)
  if (framed) writer.uint32(0) // the record mark, set by finishReply
  return writer
}

function finishReply(writer: XdrWriter, framed: boolean): Uint8Array {
  const bytes = writer.result()
  if (framed) setRecordMark(bytes)
  return bytes
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

function mergePrograms(a: RpcProgram, b: RpcProgram): RpcProgram {
  const versions = new Map(a.versions)
  for (const [number, version] of b.versions) {
    if (versions.has(number)) {
      throw new InvalidOptionError('programs', `Cannot serve program ${a.number} twice at version ${number} (${a.name} and ${b.name})`)
    }
    versions.set(number, version)
  }
  const numbers = [...versions.keys()]
  return { name: a.name, number: a.number, versions, low: Math.min(...numbers), high: Math.max(...numbers) }
}
