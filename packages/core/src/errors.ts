/**
 * Typed errors of `@socketserver/core`.
 *
 * Every error extends {@link SocketServerError}, sets `name` to its class name
 * and carries a stable `code`. Errors that wrap a system error (a failed
 * `bind()`, say) keep it as `cause` and copy its `code`, so
 * `err.code === 'EADDRINUSE'` holds whether or not you look inside.
 *
 * @module
 */

import type { Address, SocketAddress } from './address.js'
import { formatAddress } from './address-text.js'

/** Options accepted by every error constructor. */
export interface SocketServerErrorOptions {
  /** The error that caused this one, if any. */
  cause?: unknown
}

/**
 * The base class of every error this library throws or reports.
 *
 * @example
 * ```ts
 * import { SocketServerError } from '@socketserver/core'
 * try { await TCPServer.listen({ port: 80 }) } catch (err) {
 *   if (err instanceof SocketServerError) console.error(err.code, err.message)
 * }
 * ```
 */
export class SocketServerError extends Error {
  /** A stable, machine-readable code such as `SS_ERR_INVALID_OPTION` or `EADDRINUSE`. */
  readonly code: string

  /**
   * `instanceof` that holds across two installed copies of the package (a
   * handler module that brings its own copy, two versions side by side):
   * an error is an instance of a class of ours when it is one by its
   * prototype, or when its brand names that class. The brand is the list
   * of class names from its own class up to this one, under a registered
   * symbol every copy shares.
   *
   * @param value - The left side of `instanceof`.
   * @returns Whether `value` is an error of this class, from any copy.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of `instanceof`, this one or a subclass
    return isInstance(this, value)
  }

  /**
   * @param message - Sentence-case message, no final period.
   * @param code - Stable error code.
   * @param options - `cause`, the error being wrapped.
   */
  constructor(message: string, code: string, options: SocketServerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    Object.defineProperty(this, BRAND, { value: brandOf(new.target) })
  }
}

/** Where an error keeps its brand: registered, so every copy of the package finds it. */
const BRAND: unique symbol = Symbol.for('socketserver.error.brand')

/** Whether `value` is an instance of `target` by its prototype, or by its brand (another copy's). */
function isInstance(target: abstract new (...args: never[]) => unknown, value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (Function.prototype[Symbol.hasInstance].call(target, value)) return true
  const brand = (value as { [BRAND]?: unknown })[BRAND]
  return Array.isArray(brand) && brand.includes(target.name)
}

/** The names of `target` and of its ancestors up to {@link SocketServerError}, computed once per class. */
const brands = new WeakMap<object, readonly string[]>()

function brandOf(target: abstract new (...args: never[]) => unknown): readonly string[] {
  let brand = brands.get(target)
  if (brand !== undefined) return brand
  const names: string[] = []
  for (let at: unknown = target; typeof at === 'function' && at !== Error; at = Object.getPrototypeOf(at)) {
    names.push((at as { name: string }).name)
    if (at === SocketServerError) break
  }
  brand = Object.freeze(names)
  brands.set(target, brand)
  return brand
}

/**
 * An option has a value outside its domain (a negative timeout, a backlog that
 * is not an integer, an unknown policy).
 *
 * @example
 * ```ts
 * await TCPServer.listen({ port: -1 }) // rejects with InvalidOptionError
 * ```
 */
export class InvalidOptionError extends SocketServerError {
  /** The name of the offending option. */
  readonly option: string

  /**
   * @param option - Name of the option, as the user wrote it.
   * @param message - What is wrong with it.
   * @param options - `cause`, if any.
   */
  constructor(option: string, message: string, options?: SocketServerErrorOptions) {
    super(message, 'SS_ERR_INVALID_OPTION', options)
    this.option = option
  }
}

/**
 * A text address (`127.0.0.1:7`, `[::1]:0`) could not be parsed.
 *
 * @example
 * ```ts
 * parseHostPort('localhost') // throws InvalidAddressError: no port
 * ```
 */
export class InvalidAddressError extends SocketServerError {
  /** The text that was given. */
  readonly input: string

  /**
   * @param input - The text that failed to parse.
   * @param reason - Why it failed.
   */
  constructor(input: string, reason: string) {
    super(`Cannot parse address ${JSON.stringify(input)}: ${reason}`, 'SS_ERR_INVALID_ADDRESS')
    this.input = input
  }
}

/**
 * Binding or listening failed. `code` is the system error's code
 * (`EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`, `ENOTFOUND`, ...) and `cause` the
 * system error itself; `address` names what we tried to bind.
 *
 * @example
 * ```ts
 * try { await TCPServer.listen({ host: '127.0.0.1', port: taken }) }
 * catch (err) { if (err instanceof BindError && err.code === 'EADDRINUSE') retryLater() }
 * ```
 */
export class BindError extends SocketServerError {
  /** What we tried to bind: `127.0.0.1:80`, `[::1]:0` or a socket path. */
  readonly address: string

  /**
   * @param address - The address as text.
   * @param message - What went wrong.
   * @param code - The system code, or one of ours for checks we make first.
   * @param options - `cause`, the system error.
   */
  constructor(address: string, message: string, code: string, options?: SocketServerErrorOptions) {
    super(message, code, options)
    this.address = address
  }
}

/**
 * A live server already listens on the Unix socket path. We leave its file and
 * its server alone. `code` is `EADDRINUSE`, as for a TCP port in use.
 *
 * @example
 * ```ts
 * await UnixStreamServer.listen({ path }) // while another server listens there
 * // rejects with SocketPathInUseError
 * ```
 */
export class SocketPathInUseError extends BindError {
  /**
   * @param path - The socket path.
   * @param options - `cause`, the system error if there was one.
   */
  constructor(path: string, options?: SocketServerErrorOptions) {
    super(path, `Cannot bind ${JSON.stringify(path)}: a server is listening on this socket path`, 'EADDRINUSE', options)
  }
}

/**
 * Something that is not a socket (a regular file, a directory, a symbolic
 * link, a FIFO) is at the path. We never remove it.
 *
 * @example
 * ```ts
 * await UnixStreamServer.listen({ path: '/etc/passwd' }) // rejects, file untouched
 * ```
 */
export class SocketPathNotSocketError extends BindError {
  /** What is at the path: `file`, `directory`, `symbolic link` or `other`. */
  readonly found: string

  /**
   * @param path - The socket path.
   * @param found - What is there instead of a socket.
   */
  constructor(path: string, found: string) {
    super(
      path,
      `Cannot bind ${JSON.stringify(path)}: a ${found} is at this path, not a socket, and it is left untouched`,
      'SS_ERR_SOCKET_PATH_NOT_SOCKET',
    )
    this.found = found
  }
}

/**
 * The path is longer than the kernel's `sun_path` field allows.
 *
 * @example
 * ```ts
 * await UnixStreamServer.listen({ path: '/tmp/' + 'x'.repeat(200) }) // rejects
 * ```
 */
export class SocketPathTooLongError extends BindError {
  /** The most bytes a path may have on this platform. */
  readonly limit: number

  /**
   * @param path - The socket path.
   * @param limit - The most bytes allowed.
   */
  constructor(path: string, limit: number) {
    super(
      path,
      `Cannot bind ${JSON.stringify(path)}: the path is ${Buffer.byteLength(path)} bytes long, more than the ${limit} bytes a Unix socket path may have`,
      'SS_ERR_SOCKET_PATH_TOO_LONG',
    )
    this.limit = limit
  }
}

/**
 * A server was used in a state that does not allow it: `activate()` before
 * `bind()`, `bind()` twice, or either after `close()`.
 *
 * @example
 * ```ts
 * const server = new TCPServer({ port: 0 }); await server.close(); await server.bind() // rejects
 * ```
 */
export class ServerClosedError extends SocketServerError {
  /**
   * @param message - What was attempted and the state the server is in.
   * @param code - The code; subclasses name their own.
   */
  constructor(message: string, code = 'SS_ERR_SERVER_CLOSED') {
    super(message, code)
  }
}

/**
 * The server cannot do that yet: it is not bound (its `address`, or
 * `activate()` before `bind()`), or bound but not activated (iterating it
 * before `activate()`). Code `SS_ERR_SERVER_NOT_READY`. It extends
 * `ServerClosedError`, which these cases threw before, so that code
 * catching that still catches them; test for this class to tell "not yet"
 * from "no more".
 *
 * @example
 * ```ts
 * const server = new TCPServer({ port: 0 })
 * server.address // throws ServerNotReadyError: call bind() first
 * ```
 */
export class ServerNotReadyError extends ServerClosedError {
  /** @param message - What was attempted and the state the server is in. */
  constructor(message: string) {
    super(message, 'SS_ERR_SERVER_NOT_READY')
  }
}

/**
 * A request ran longer than `timeoutMs` (its signal aborts with this error
 * and its connection is closed), or a client stayed idle longer than a
 * handler's idle timeout.
 *
 * @example
 * ```ts
 * serve(server, handler, { timeoutMs: 5_000, handleError: (err) => {
 *   if (err instanceof RequestTimeoutError) timeouts++
 * } })
 * ```
 */
export class RequestTimeoutError extends SocketServerError {
  /** The limit that was exceeded, in milliseconds. */
  readonly timeoutMs: number

  /**
   * @param timeoutMs - The limit that was exceeded.
   * @param what - What timed out, for the message.
   */
  constructor(timeoutMs: number, what = 'request') {
    super(`Cannot finish the ${what}: it took longer than ${timeoutMs} ms`, 'SS_ERR_REQUEST_TIMEOUT')
    this.timeoutMs = timeoutMs
  }
}

/**
 * `serve()` was stopped and a request was still running when the drain
 * deadline (`drainTimeoutMs`) passed: its signal aborts with this error, its
 * connection is destroyed and `serve()` stops waiting for it.
 *
 * @example
 * ```ts
 * serve(server, handler, { signal, drainTimeoutMs: 1_000 }) // a handler that never returns gets this
 * ```
 */
export class DrainTimeoutError extends SocketServerError {
  /** The drain deadline, in milliseconds. */
  readonly drainTimeoutMs: number

  /** @param drainTimeoutMs - The drain deadline that passed. */
  constructor(drainTimeoutMs: number) {
    super(`Cannot finish the request: the server stopped and ${drainTimeoutMs} ms of drain time passed`, 'SS_ERR_DRAIN_TIMEOUT')
    this.drainTimeoutMs = drainTimeoutMs
  }
}

/**
 * A `serve()` hook other than the handler threw or rejected:
 * `verifyRequest` (the request is then closed unserved) or
 * `serviceActions` (serving goes on). `cause` is what it threw. With
 * `HandlerError` for the handler, every error `handleError` receives is one
 * of ours, with a `code`.
 *
 * @example
 * ```ts
 * serve(server, handler, { handleError: (err) => {
 *   if (err instanceof HookError && err.hook === 'verifyRequest') deniedByBug++
 * } })
 * ```
 */
export class HookError extends SocketServerError {
  /** Which hook failed. */
  readonly hook: 'verifyRequest' | 'serviceActions'

  /**
   * @param hook - Which hook failed.
   * @param cause - What it threw.
   * @param clientAddress - The client whose request it was checking (verifyRequest).
   */
  constructor(hook: 'verifyRequest' | 'serviceActions', cause: unknown, clientAddress?: Address) {
    const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)
    const what = clientAddress === undefined ? hook : `${hook} for the request from ${formatAddress(clientAddress)}`
    super(`Cannot run ${what}: ${detail}`, 'SS_ERR_HOOK', { cause })
    this.hook = hook
  }
}

/**
 * A read was asked for while another read of the same source was still
 * pending: reads of a connection's `request.source` (and `readline()` of a
 * `BufferedReader`) take turns, as `for await` does by itself.
 *
 * @example
 * ```ts
 * const first = request.source.next()
 * await request.source.next() // rejects: ReadPendingError, code SS_ERR_READ_PENDING
 * ```
 */
export class ReadPendingError extends SocketServerError {
  /** @param what - What could not be read, for the message (`'a line'`). */
  constructor(what = '') {
    const reading = what === '' ? 'read' : `read ${what}`
    super(`Cannot ${reading}: another read of this source is still pending`, 'SS_ERR_READ_PENDING')
  }
}

/**
 * The reason of a request's `stopping` signal: `serve()` began to stop (its
 * `signal` aborted). Not a failure: a handler that sees it finishes the
 * request it is in and returns; `serve()` waits for it until the drain
 * deadline.
 *
 * @example
 * ```ts
 * request.stopping.addEventListener('abort', () => sayGoodbye(), { once: true })
 * ```
 */
export class ServerStoppingError extends SocketServerError {
  constructor() {
    super('Cannot take more requests: the server is stopping', 'SS_ERR_SERVER_STOPPING')
  }
}

/**
 * The client left in the middle of a request: it reset the connection
 * (`ECONNRESET`, `EPIPE`) or ended its side before a whole message came (an
 * incomplete read). This is the client's doing, not the handler's failure:
 * `serve()` reports it to `handleError` with `code`
 * `SS_ERR_CLIENT_DISCONNECTED` and the original error as `cause`, and the
 * default `handleError` does not print it. Count it on the
 * `socketserver:request:error` channel or in a `handleError` of your own.
 *
 * @example
 * ```ts
 * serve(server, handler, { handleError: (err, request) => {
 *   if (err instanceof ClientDisconnectedError) return void disconnects++
 *   defaultHandleError(err, request)
 * } })
 * ```
 */
export class ClientDisconnectedError extends SocketServerError {
  /** The client that left. */
  readonly clientAddress: SocketAddress

  /**
   * @param clientAddress - The peer that left.
   * @param cause - The error the handler's read or write failed with.
   */
  constructor(clientAddress: SocketAddress, cause: unknown) {
    const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)
    super(
      `Cannot finish the request from ${formatAddress(clientAddress)}: the client disconnected (${detail})`,
      'SS_ERR_CLIENT_DISCONNECTED',
      { cause },
    )
    this.clientAddress = clientAddress
  }
}

/**
 * A handler threw or rejected. `cause` is what it threw, `clientAddress` the
 * peer it was serving. This is what `handleError` receives for handler
 * failures (Python's `handle_error(request, client_address)`).
 *
 * @example
 * ```ts
 * serve(server, handler, { handleError: (err) => {
 *   if (err instanceof HandlerError) log(err.clientAddress, err.cause)
 * } })
 * ```
 */
export class HandlerError extends SocketServerError {
  /** The client the failing request came from. */
  readonly clientAddress: Address | undefined

  /**
   * @param clientAddress - The peer of the failed request.
   * @param cause - What the handler threw.
   */
  constructor(clientAddress: Address | undefined, cause: unknown) {
    const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)
    super(`Cannot handle the request from ${clientText(clientAddress)}: ${detail}`, 'SS_ERR_HANDLER', { cause })
    this.clientAddress = clientAddress
  }
}

/**
 * A connection or datagram was refused because `maxPendingConnections` (or
 * `maxPendingDatagrams`) were already waiting for a consumer. Published on
 * `socketserver:server:drop` and passed to `serve()`'s `handleError`.
 *
 * @example
 * ```ts
 * serve(server, handler, { handleError: (err) => { if (err instanceof OverflowError) overloaded++ } })
 * ```
 */
export class OverflowError extends SocketServerError {
  /** The peer that was refused. */
  readonly clientAddress: Address

  /**
   * @param clientAddress - The refused peer.
   * @param limit - How many were waiting.
   */
  constructor(clientAddress: Address, limit: number) {
    super(`Cannot queue the request from ${formatAddress(clientAddress)}: ${limit} are already waiting for the consumer`, 'SS_ERR_OVERFLOW')
    this.clientAddress = clientAddress
  }
}

/**
 * The process ran out of file descriptors (`EMFILE`, or `ENFILE` for the
 * whole system), so new connections cannot be accepted: while it lasts,
 * libuv accepts and at once closes each new connection, so clients see their
 * connection closed rather than waiting in the backlog forever, and the
 * server does not spin. Stream servers check for it with a cheap probe (one
 * `open()` of `/dev/null`), every second while healthy and with a capped
 * exponential back-off while exhausted, and report it on
 * `socketserver:server:accept-error` and to `serve()`'s `handleError`: at
 * once, then again as the episode goes on (after 0.1 s, 0.3 s, 0.7 s, ...
 * then every 5 s). Node itself never reports these accept failures.
 *
 * @example
 * ```ts
 * serve(server, handler, { handleError: (err) => { if (err instanceof DescriptorsExhaustedError) alert(err.message) } })
 * ```
 */
export class DescriptorsExhaustedError extends SocketServerError {
  /** How long the descriptors have been exhausted, in milliseconds (0 at the first report). */
  readonly exhaustedForMs: number

  /**
   * @param code - `EMFILE` (this process's limit) or `ENFILE` (the system's).
   * @param exhaustedForMs - Time since the exhaustion was first seen.
   * @param options - `cause`: the failed probe's error.
   */
  constructor(code: 'EMFILE' | 'ENFILE', exhaustedForMs: number, options?: SocketServerErrorOptions) {
    const whose = code === 'EMFILE' ? 'this process has' : 'the system has'
    const since = exhaustedForMs === 0 ? '' : ` (for ${(exhaustedForMs / 1000).toFixed(1)} s)`
    super(
      `Cannot accept connections: ${whose} no file descriptors left${since}; new connections are closed at once until descriptors free up (raise "ulimit -n" or lower the load)`,
      code,
      options,
    )
    this.exhaustedForMs = exhaustedForMs
  }
}

/**
 * A datagram was larger than `maxPacketSize`: it is dropped whole, never
 * handed to a handler cut short (Python truncates silently), and reported.
 * Also the rejection of `reply()` when a reply is larger than the socket can
 * send (`EMSGSIZE`).
 *
 * @example
 * ```ts
 * serve(server, handler, { handleError: (err) => { if (err instanceof DatagramTooLargeError) oversized++ } })
 * ```
 */
export class DatagramTooLargeError extends SocketServerError {
  /** The datagram's size in bytes, when known. */
  readonly size: number | undefined
  /** The limit it exceeded. */
  readonly limit: number
  /** The peer it came from or was meant for. */
  readonly clientAddress: SocketAddress | undefined

  /**
   * @param message - What was too large and the state.
   * @param details - Size, limit, peer and cause.
   */
  constructor(message: string, details: { size?: number; limit: number; clientAddress?: SocketAddress; cause?: unknown }) {
    super(message, 'SS_ERR_DATAGRAM_TOO_LARGE', { cause: details.cause })
    this.size = details.size
    this.limit = details.limit
    this.clientAddress = details.clientAddress
  }
}

/**
 * A reply could not be sent to a datagram's sender: it is a Unix datagram
 * client that never bound a path of its own, so it has no address to reply
 * to (Python fails there with a TypeError), or sending failed with a system
 * error (`code` is copied from it).
 *
 * @example
 * ```ts
 * try { await request.reply(data) } catch (err) { if (err instanceof ReplyError) ... }
 * ```
 */
export class ReplyError extends SocketServerError {
  /** The peer the reply was for. */
  readonly clientAddress: SocketAddress

  /**
   * @param clientAddress - The peer.
   * @param message - What went wrong.
   * @param code - `SS_ERR_UNBOUND_CLIENT` or a system code.
   * @param options - `cause`.
   */
  constructor(clientAddress: SocketAddress, message: string, code: string, options?: SocketServerErrorOptions) {
    super(message, code, options)
    this.clientAddress = clientAddress
  }
}

/**
 * A child process of the `forked()` policy died while serving a request
 * (it crashed, exited, or was killed). The request's connection is closed; a
 * new child is started when one is needed; other requests are unaffected.
 *
 * @example
 * ```ts
 * serve(server, null, { policy: forked({ module }), handleError: (err) => {
 *   if (err instanceof WorkerCrashedError) console.error('child died:', err.exitCode ?? err.signal)
 * } })
 * ```
 */
export class WorkerCrashedError extends SocketServerError {
  /** The child's exit code, or null when a signal ended it. */
  readonly exitCode: number | null
  /** The signal that ended the child (`SIGKILL`, ...), or null. */
  readonly signal: NodeJS.Signals | null
  /** The peer whose request the child was serving. */
  readonly clientAddress: Address | undefined

  /**
   * @param exitCode - The exit code, or null.
   * @param signal - The signal, or null.
   * @param clientAddress - The peer being served.
   */
  constructor(exitCode: number | null, signal: NodeJS.Signals | null, clientAddress: Address | undefined) {
    const how = signal === null ? `exit code ${exitCode}` : `signal ${signal}`
    super(`Cannot finish the request from ${clientText(clientAddress)}: its child process ended with ${how}`, 'SS_ERR_WORKER_CRASHED')
    this.exitCode = exitCode
    this.signal = signal
    this.clientAddress = clientAddress
  }
}

/**
 * A `forked()` child could not load the handler module: it does not exist,
 * fails to import, or has no usable default export. Raised once, at start,
 * instead of a crash loop of children.
 *
 * @example
 * ```ts
 * await serve(server, null, { policy: forked({ module: './missing.js' }) }) // rejects with WorkerStartError
 * ```
 */
export class WorkerStartError extends SocketServerError {
  /** The module that failed. */
  readonly module: string

  /**
   * @param module - The module specifier or URL.
   * @param reason - What went wrong in the child.
   */
  constructor(module: string, reason: string) {
    super(`Cannot start a child process for ${JSON.stringify(module)}: ${reason}`, 'SS_ERR_WORKER_START')
    this.module = module
  }
}

/**
 * A connection or datagram waited `maxWaitMs` in the server's queue for a
 * consumer (a free slot of `pooled({ concurrency })`, say) and was refused
 * unserved: a connection is closed, a datagram dropped (#16). Published on
 * `socketserver:server:drop`, counted in `server.stats.waitTimeouts` and
 * passed to `serve()`'s `handleError`.
 *
 * @example
 * ```ts
 * const server = await TCPServer.listen({ port: 0, maxWaitMs: 5_000 })
 * serve(server, handler, { handleError: (err) => { if (err instanceof WaitTimeoutError) turnedAway++ } })
 * ```
 */
export class WaitTimeoutError extends SocketServerError {
  /** The peer that was refused. */
  readonly clientAddress: Address
  /** The limit it waited, in milliseconds. */
  readonly maxWaitMs: number

  /**
   * @param clientAddress - The refused peer.
   * @param maxWaitMs - The limit that passed.
   */
  constructor(clientAddress: Address, maxWaitMs: number) {
    super(
      `Cannot serve the request from ${formatAddress(clientAddress)}: it waited maxWaitMs (${maxWaitMs} ms) for a free slot, so it was refused unserved`,
      'SS_ERR_WAIT_TIMEOUT',
    )
    this.clientAddress = clientAddress
    this.maxWaitMs = maxWaitMs
  }
}

/**
 * An inherited socket cannot be served: the socket-activation variables
 * (`LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`) are malformed, a
 * descriptor is not a socket, or is not of the kind asked for (a UDP socket
 * given to `TCPServer.fromFd()`), or is of a kind Node cannot adopt (a Unix
 * datagram socket). `fd` names the descriptor when there is one.
 *
 * @example
 * ```ts
 * try { await TCPServer.fromFd(3) } catch (err) {
 *   if (err instanceof SocketActivationError) console.error(err.message) // names fd 3 and what it is
 * }
 * ```
 */
export class SocketActivationError extends SocketServerError {
  /** The descriptor, when the error is about one. */
  readonly fd: number | undefined

  /**
   * @param message - What is wrong, naming the descriptor or variable.
   * @param fd - The descriptor, if any.
   */
  constructor(message: string, fd?: number) {
    super(message, 'SS_ERR_SOCKET_ACTIVATION')
    this.fd = fd
  }
}

/** A peer as text for a message; `an unknown client` when there is none. */
function clientText(address: Address | undefined): string {
  return address === undefined ? 'an unknown client' : formatAddress(address)
}

/**
 * `verifyRequest` refused a request. A request whose source records its
 * outcome (a job) is told so through `handled()`, and its source records
 * it as failed with this error (socket requests are simply closed).
 *
 * @example
 * ```ts
 * serve(source, handler, { verifyRequest: (job) => job.attempt <= 3 }) // a fourth attempt fails with this
 * ```
 */
export class RequestRefusedError extends SocketServerError {
  /** Where the refused request came from. */
  readonly clientAddress: Address

  /** @param clientAddress - Where the refused request came from. */
  constructor(clientAddress: Address) {
    super(`Cannot serve the request from ${formatAddress(clientAddress)}: verifyRequest refused it`, 'SS_ERR_REQUEST_REFUSED')
    this.clientAddress = clientAddress
  }
}

/**
 * A job's source could not store its outcome (its database went away, or
 * the job's lease was lost to another worker). `cause` is why. The job is
 * not lost: it runs again once its lease ends; this attempt's outcome is.
 * `serve()` reports it to `handleError`.
 *
 * @example
 * ```ts
 * serve(source, handler, { handleError: (err) => { if (err instanceof OutcomeNotRecordedError) alert(err.jobId) } })
 * ```
 */
export class OutcomeNotRecordedError extends SocketServerError {
  /** The job's source. */
  readonly clientAddress: Address
  /** The job's id. */
  readonly jobId: string
  /** The outcome that was not stored. */
  readonly state: 'done' | 'failed' | 'given-back'

  /**
   * @param clientAddress - The job's source.
   * @param jobId - The job's id.
   * @param state - The outcome that was not stored.
   * @param cause - Why it was not.
   */
  constructor(clientAddress: Address, jobId: string, state: 'done' | 'failed' | 'given-back', cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause)
    super(`Cannot record job ${jobId} of ${formatAddress(clientAddress)} as ${state}: ${detail}`, 'SS_ERR_OUTCOME_NOT_RECORDED', { cause })
    this.clientAddress = clientAddress
    this.jobId = jobId
    this.state = state
  }
}
