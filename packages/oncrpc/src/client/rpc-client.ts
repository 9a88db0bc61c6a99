/**
 * A client for any ONC RPC server: calls over TCP or a Unix stream socket
 * (record marking, many calls in flight on one connection, replies matched
 * by xid), or over UDP (one call per datagram, retransmitted until a reply
 * or the timeout).
 *
 * @module
 */

import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { isIP, connect as netConnect, type Socket } from 'node:net'
import { InvalidOptionError } from '@socketserver/core'
import type { ProcedureDefinition } from '../program/program.js'
import { DEFAULT_MAX_RECORD_SIZE, RecordDecoder, setRecordMark } from '../record/record-decoder.js'
import { AUTH_NONE, type Credential } from '../rpc/credentials.js'
import { readReply, replyXid, writeCall } from '../rpc/messages.js'
import { RpcConnectionClosedError, RpcTimeoutError } from '../rpc-errors.js'
import { XdrError } from '../xdr/xdr-error.js'
import { XdrWriter } from '../xdr/xdr-writer.js'

/** Default `timeoutMs` of {@link RpcClientOptions}: 25 s, libtirpc's `clnt_call()` default. */
export const DEFAULT_CALL_TIMEOUT_MS = 25_000
/** Default `retransmitMs` of {@link RpcClientOptions}: the first UDP retransmission after 500 ms (each next waits twice as long, up to 4 s). */
export const DEFAULT_RETRANSMIT_MS = 500

/** Where and how an {@link RpcClient} calls. */
export type RpcClientOptions = (
  | { readonly transport: 'tcp' | 'udp'; readonly host: string; readonly port: number }
  | { readonly transport: 'unix'; readonly path: string }
) & {
  /** The credentials sent with every call. Default AUTH_NONE; `sysCredential()` gives AUTH_SYS for this process. */
  readonly credential?: Credential
  /** How long a call waits for its reply, in ms. Default {@link DEFAULT_CALL_TIMEOUT_MS}. */
  readonly timeoutMs?: number
  /** UDP: the wait before the first retransmission, in ms. Default {@link DEFAULT_RETRANSMIT_MS}. */
  readonly retransmitMs?: number
  /** TCP, Unix: the most bytes of a reply's record. Default 16 MiB. */
  readonly maxRecordSize?: number
}

/** Options of one call. */
export interface CallOptions {
  /** Aborting it rejects the call with `signal.reason` (a reply that comes later is ignored). */
  readonly signal?: AbortSignal
  /** This call's timeout, in ms, instead of the client's. */
  readonly timeoutMs?: number
}

interface PendingCall {
  readonly resolve: (reply: Uint8Array) => void
  readonly reject: (error: unknown) => void
}

const MAX_UDP_REPLY = 65_535
const MAX_RETRANSMIT_MS = 4000

/**
 * A connection to an RPC server (or, over UDP, a socket that talks to
 * one). Calls may overlap; each gets a new xid.
 *
 * @example
 * ```ts
 * const client = await RpcClient.connect({ transport: 'udp', host: '127.0.0.1', port: 111 })
 * const port = await client.call(100000, 2, { number: 3, args: Mapping, result: xdr.unsigned }, { prog: 100003, vers: 3, prot: 6, port: 0 })
 * await client.close()
 * ```
 */
export class RpcClient {
  readonly #transport: Transport
  readonly #credential: Credential
  readonly #timeoutMs: number
  readonly #pending = new Map<number, PendingCall>()
  #nextXid = (Math.random() * 0x1_0000_0000) >>> 0
  #closed: Error | undefined

  private constructor(transport: Transport, options: RpcClientOptions) {
    this.#transport = transport
    this.#credential = options.credential ?? AUTH_NONE
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS
    transport.start(
      (message) => this.#received(message),
      (error) => this.#lost(error),
    )
  }

  /**
   * Connects (TCP, Unix stream) or opens a socket for the server (UDP).
   *
   * @param options - The server's address, credentials, timeouts.
   * @returns The client.
   * @throws InvalidOptionError for a bad option; the connection's error
   *   (ECONNREFUSED, ENOENT) when it cannot connect.
   */
  static async connect(options: RpcClientOptions): Promise<RpcClient> {
    checkTimeout(options.timeoutMs, 'timeoutMs')
    checkTimeout(options.retransmitMs, 'retransmitMs')
    const transport =
      options.transport === 'udp'
        ? await DatagramTransport.open(options.host, options.port, options.retransmitMs ?? DEFAULT_RETRANSMIT_MS)
        : await StreamTransport.open(options, options.maxRecordSize ?? DEFAULT_MAX_RECORD_SIZE)
    return new RpcClient(transport, options)
  }

  /** Calls in flight. */
  get pending(): number {
    return this.#pending.size
  }

  /**
   * Calls one procedure and waits for its result.
   *
   * @param program - The program's number.
   * @param version - The version's number.
   * @param procedure - The procedure: its number, argument and result types (a definition's procedure).
   * @param args - The argument.
   * @param options - `signal`, `timeoutMs`.
   * @returns The result.
   * @throws RpcReplyError when the server answers with anything but
   *   SUCCESS; RpcTimeoutError; RpcConnectionClosedError when the
   *   connection closes first; XdrError for an argument that does not
   *   encode or a result that does not decode.
   */
  async call<A, R>(program: number, version: number, procedure: ProcedureDefinition<A, R>, args: A, options: CallOptions = {}): Promise<R> {
    if (this.#closed !== undefined) throw this.#closed
    options.signal?.throwIfAborted()
    const xid = this.#takeXid()
    const writer = new XdrWriter(128)
    const framed = this.#transport.framed
    if (framed) writer.uint32(0)
    writeCall(writer, xid, program, version, procedure.number, this.#credential)
    procedure.args.encode(args, writer)
    const message = writer.result()
    if (framed) setRecordMark(message)
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs
    const reply = await new Promise<Uint8Array>((resolve, reject) => {
      let stopRetransmitting = (): void => {}
      const finish = (): void => {
        this.#pending.delete(xid)
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', onAbort)
        stopRetransmitting()
      }
      const onAbort = (): void => {
        finish()
        reject(options.signal?.reason)
      }
      const timer = setTimeout(() => {
        finish()
        reject(new RpcTimeoutError(`program ${program} version ${version} procedure ${procedure.number}`, timeoutMs))
      }, timeoutMs)
      options.signal?.addEventListener('abort', onAbort, { once: true })
      this.#pending.set(xid, {
        resolve: (bytes) => {
          finish()
          resolve(bytes)
        },
        reject: (error) => {
          finish()
          reject(error)
        },
      })
      stopRetransmitting = this.#transport.send(message, (error) => this.#pending.get(xid)?.reject(error))
    })
    const reader = readReply(reply)
    const result = procedure.result.decode(reader)
    if (reader.remaining !== 0)
      throw new XdrError(`Cannot decode the result of procedure ${procedure.number}: ${reader.remaining} bytes are left after it`)
    return result
  }

  /** Closes the connection (or socket); calls in flight reject with RpcConnectionClosedError. */
  async close(): Promise<void> {
    if (this.#closed === undefined) this.#lost(new RpcConnectionClosedError('the client was closed'))
    await this.#transport.close()
  }

  /** `await using client = await RpcClient.connect(...)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #takeXid(): number {
    let xid = this.#nextXid
    while (this.#pending.has(xid)) xid = (xid + 1) >>> 0
    this.#nextXid = (xid + 1) >>> 0
    return xid
  }

  #received(message: Uint8Array): void {
    const xid = replyXid(message)
    if (xid === undefined) return // not a reply: nothing waits for it
    this.#pending.get(xid)?.resolve(message)
  }

  #lost(error: Error): void {
    this.#closed ??= error instanceof RpcConnectionClosedError ? error : new RpcConnectionClosedError(error.message, { cause: error })
    for (const call of [...this.#pending.values()]) call.reject(this.#closed)
  }
}

function checkTimeout(value: number | undefined, name: string): void {
  if (value !== undefined && (!Number.isFinite(value) || value <= 0)) {
    throw new InvalidOptionError(name, `Cannot use ${name} ${String(value)}: expected a positive number of ms`)
  }
}

/** How messages reach the server and come back. */
interface Transport {
  /** Replies are record-marked (the client adds the mark to calls). */
  readonly framed: boolean
  start(onMessage: (message: Uint8Array) => void, onLost: (error: Error) => void): void
  /** Sends a call; returns a function that stops its retransmissions. */
  send(message: Uint8Array, onError: (error: Error) => void): () => void
  close(): Promise<void>
}

class StreamTransport implements Transport {
  readonly framed = true
  readonly #socket: Socket
  readonly #decoder: RecordDecoder

  private constructor(socket: Socket, maxRecordSize: number) {
    this.#socket = socket
    this.#decoder = new RecordDecoder(maxRecordSize)
  }

  static open(options: RpcClientOptions, maxRecordSize: number): Promise<StreamTransport> {
    return new Promise((resolve, reject) => {
      const socket =
        options.transport === 'unix'
          ? netConnect({ path: options.path })
          : netConnect({ host: options.host, port: options.port, noDelay: true })
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(new StreamTransport(socket, maxRecordSize))
      })
    })
  }

  start(onMessage: (message: Uint8Array) => void, onLost: (error: Error) => void): void {
    const records: Uint8Array[] = []
    this.#socket.on('data', (chunk: Buffer) => {
      records.length = 0
      let failure: Error | undefined
      try {
        this.#decoder.decode(chunk, records)
      } catch (error) {
        failure = error as Error
      }
      // The replies before a bad record are answers all the same.
      for (const record of records) onMessage(record)
      if (failure !== undefined) {
        onLost(failure)
        this.#socket.destroy()
      }
    })
    this.#socket.on('error', (error) => onLost(error))
    this.#socket.on('close', () => onLost(new RpcConnectionClosedError('the server closed the connection')))
    // The server ending its side is the end of replies.
    this.#socket.on('end', () => this.#socket.end())
  }

  send(message: Uint8Array, onError: (error: Error) => void): () => void {
    this.#socket.write(message, (error) => {
      if (error) onError(error)
    })
    return () => {}
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#socket.destroyed) return resolve()
      this.#socket.once('close', () => resolve())
      this.#socket.destroy()
    })
  }
}

class DatagramTransport implements Transport {
  readonly framed = false
  readonly #socket: UdpSocket
  readonly #retransmitMs: number

  private constructor(socket: UdpSocket, retransmitMs: number) {
    this.#socket = socket
    this.#retransmitMs = retransmitMs
  }

  static open(host: string, port: number, retransmitMs: number): Promise<DatagramTransport> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4', recvBufferSize: MAX_UDP_REPLY * 4 })
      const fail = (error: Error): void => {
        socket.close()
        reject(error)
      }
      socket.once('error', fail)
      // A failed lookup or connect comes to this callback, not as 'error'.
      socket.connect(port, host, (error?: Error) => {
        socket.off('error', fail)
        if (error) fail(error)
        else resolve(new DatagramTransport(socket, retransmitMs))
      })
    })
  }

  start(onMessage: (message: Uint8Array) => void, onLost: (error: Error) => void): void {
    this.#socket.on('message', (message) => onMessage(message))
    // ECONNREFUSED from an ICMP port unreachable: the call waits on (a server may come), as libtirpc's clnt_dg does after a retry.
    this.#socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNREFUSED') onLost(error)
    })
  }

  send(message: Uint8Array, onError: (error: Error) => void): () => void {
    let wait = this.#retransmitMs
    let timer: NodeJS.Timeout | undefined
    let stopped = false
    const transmit = (): void => {
      if (stopped) return
      this.#socket.send(message, (error) => {
        if (error && (error as NodeJS.ErrnoException).code !== 'ECONNREFUSED') onError(error)
      })
      timer = setTimeout(transmit, wait)
      wait = Math.min(wait * 2, MAX_RETRANSMIT_MS)
    }
    transmit()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.#socket.close(() => resolve())
      } catch {
        resolve() // closed already
      }
    })
  }
}
