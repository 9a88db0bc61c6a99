/**
 * The shapes that connect servers, `serve()`, policies and handlers.
 *
 * @module
 */

import type { Socket } from 'node:net'
import type { Duplex, Source } from 'it-stream-types'
import type { Address, SocketAddress, SourceAddress } from './address.js'

/** Options of every abortable operation: `{ signal }`. */
export interface AbortOptions {
  /** Aborting it stops the operation; the promise rejects with `signal.reason`. */
  signal?: AbortSignal
}

/**
 * What every request has, whatever its transport.
 */
export interface BaseRequest {
  /**
   * The peer: `{ transport: 'tcp', host, port, family }` or `{ transport:
   * 'unix', path }`; for a job, its source (`{ transport: 'source', name }`).
   */
  readonly clientAddress: Address
  /** The server that accepted the request. */
  readonly server: Server<Request>
  /**
   * Aborts when the request must stop: its `timeoutMs` passed, the drain
   * deadline passed while the server stops, or the connection was closed by
   * {@link BaseRequest.abort}. `signal.reason` says which (a
   * `RequestTimeoutError`, a `DrainTimeoutError`, ...).
   */
  readonly signal: AbortSignal
  /**
   * Aborts when serving begins to stop (`serve()`'s `signal` aborted), with
   * a `ServerStoppingError` as its reason: the request may finish what it is
   * doing, and should not wait for more (a chat session says goodbye, a
   * loop that writes forever ends). `serve()` waits for it until
   * `drainTimeoutMs`, then aborts {@link BaseRequest.signal}. A stream
   * connection also ends its idle reads on the stop: see
   * {@link StreamRequest.source}.
   *
   * Listen with `{ once: true }` and remove the listener when the request
   * ends: the signal lives as long as the request, but a handler that adds a
   * listener per message would pile them up.
   */
  readonly stopping: AbortSignal
  /**
   * Tells the request that serving is stopping: aborts
   * {@link BaseRequest.stopping} with `reason` and, on a stream connection,
   * ends a read that waits idle. `serve()` calls it on every running request
   * when its signal aborts (and on a request that starts after that); call
   * it yourself when you stop a loop of your own. Idempotent: the first
   * reason stays.
   *
   * @param reason - The `stopping` signal's reason; default a
   *   `ServerStoppingError`.
   * @example
   * ```ts
   * process.once('SIGTERM', () => { for (const request of open) request.stop() })
   * ```
   */
  stop(reason?: unknown): void
  /**
   * Ends the request gracefully: flushes what was written, then closes
   * (Python's `shutdown_request()` then `close_request()`). Idempotent.
   * `serve()` calls it after the handler returns; call it yourself when you
   * iterate a server without `serve()`.
   *
   * Abort behaviour: bytes already written are flushed first; if the request's
   * signal aborts meanwhile, the connection is destroyed at once.
   *
   * @throws ReplyError (it rejects) when the reply could not all be sent:
   *   the client reset the connection before the kernel took it, or the
   *   handler wrote to the connection after destroying or ending it (see
   *   {@link StreamRequest.socket}). The connection is closed either way.
   *   `serve()` reports it to `handleError`; a loop of your own should catch it.
   */
  close(): Promise<void>
  /**
   * Ends the request at once: aborts {@link BaseRequest.signal} with `reason`
   * and destroys the connection; unsent bytes are dropped. Idempotent.
   */
  abort(reason?: unknown): void
  /**
   * Optional: told how the handler ended, before `close()` is called: the
   * value its promise resolved with, or the error it failed with (what it
   * threw, a `RequestTimeoutError`, a `DrainTimeoutError`, a child's
   * crash). A request whose outcome its source records has it (a job:
   * the handler's return value is its result); `serve()` and
   * `handleRequest()` call it, once, where a request has it. A request
   * `verifyRequest` refused is told so with a `RequestRefusedError`.
   * Socket requests do not have it.
   *
   * @param ending - `{ failed: false, value }` or `{ failed: true, error }`.
   */
  handled?(ending: HandlerEnding): void
}

/** How a handler ended, as {@link BaseRequest.handled} is told. */
export type HandlerEnding = { readonly failed: false; readonly value: unknown } | { readonly failed: true; readonly error: unknown }

/**
 * The bytes a client sends, as `request.source` yields them: chunks in
 * arrival order until the client ends its side.
 *
 * Idle reads end on stop: once {@link BaseRequest.stop} was called (serving
 * is stopping), a read that would wait for the client's next bytes with
 * nothing received ends the iteration (`done`, as the client's end would),
 * at once if it is already waiting. Bytes already received are still
 * yielded, so a connection in the middle of a request finishes it; check
 * `request.stopping.aborted` to tell a stop from the client's end. A reader
 * that holds part of a message (a frame whose rest has not come) sets
 * {@link ConnectionSource.midMessage} while it waits, and the stop lets its
 * read wait for the rest. `BufferedReader` (a handler's `rfile`) does so.
 * Forwarding (`request.sink(request.source)`) has no messages: on stop it
 * forwards what was received and ends the write side.
 */
export interface ConnectionSource extends AsyncGenerator<Uint8Array> {
  /**
   * Set by the reader: true while it waits for the rest of a message it
   * holds part of, so that a stop does not end that read. Default false.
   */
  midMessage: boolean
  /**
   * Fails the read that waits for the client's next bytes, if one does: it
   * rejects with `error` now; the next read waits as usual. For an idle
   * timeout that lets the handler say goodbye instead of losing the
   * connection (`StreamRequestHandler`'s `idleTimeoutMs` uses it). A forwarding
   * `sink()` rejects the same way and stops forwarding.
   *
   * @param error - What the waiting read rejects with.
   * @returns Whether a read was waiting (if not, nothing changed).
   * @example
   * ```ts
   * socket.setTimeout(30_000, () => {
   *   if (!request.source.failWaitingRead(new Error('idle'))) request.abort()
   * })
   * ```
   */
  failWaitingRead(error: Error): boolean
  /**
   * Optional: `next()` through a callback, for readers that want to finish
   * a message in the same turn as the chunk that completes it. `deliver`
   * gets the next chunk synchronously when it arrives (at once if one is
   * queued), `deliver(undefined)` at the end and `deliver(undefined, error)`
   * on a failure. A read as any other: a second one while one waits is
   * refused with `ReadPendingError`. Our connections have it;
   * `BufferedReader` (a handler's `rfile`) uses it where a source has it.
   *
   * Measured (commit 33e0318, interleaved `pnpm bench` runs of the line
   * upper-case case): one promise turn and one resumption per line fewer,
   * 0.70-0.73 x raw Node without it, 0.78 with it.
   *
   * @param deliver - Called once with the chunk, the end or the failure.
   * @example
   * ```ts
   * request.source.nextChunk?.((chunk, error) => { if (chunk !== undefined) parse(chunk) })
   * ```
   */
  nextChunk?(deliver: DeliverChunk): void
}

/** What {@link ConnectionSource.nextChunk} hands a chunk to: the chunk, or the end (`undefined`), or a failure. */
export type DeliverChunk = (chunk: Uint8Array | undefined, error?: Error) => void

/**
 * One accepted stream connection (TCP or Unix stream).
 *
 * It is also an it-stream-types `Duplex`: `source` yields the bytes the client
 * sends, `sink` writes bytes back and ends the write side when its source
 * ends, so `pipe(request, transform, request)` is a complete handler.
 * Given a connection's own unread `source` (an echo, `pipe(request,
 * request)`, or relaying one connection into another), `sink` forwards the
 * bytes as they arrive, with backpressure and without a promise per chunk.
 * `sink` resolves once every byte was handed to the kernel and the write
 * side ended; it rejects (`ERR_STREAM_DESTROYED`) when the connection closes
 * or is ended by someone else before that, so a reply cut short never
 * counts as delivered. `source` serves one read at a time: a second `next()`
 * while one is pending rejects with code `SS_ERR_READ_PENDING` (as
 * `for await` never does).
 *
 * The socket arrives paused: no byte has been read from it until the handler
 * reads (so it can be handed to a child process intact).
 *
 * @example
 * ```ts
 * for await (const request of server) {
 *   request.socket.end('hello\n')
 *   await request.close().catch((error) => console.error(error.message)) // a client that reset
 * }
 * ```
 */
export interface StreamRequest extends BaseRequest, Duplex<ConnectionSource, Source<Uint8Array>, Promise<void>> {
  readonly kind: 'stream'
  /** The peer: `{ transport: 'tcp', host, port, family }` or `{ transport: 'unix', path }`. */
  readonly clientAddress: SocketAddress
  /**
   * The connected socket.
   *
   * Read with {@link StreamRequest.source} (or a handler's `rfile`), not
   * with `for await (const chunk of request.socket)`: Node's own socket
   * iterator destroys the socket, both directions, when the loop ends (a
   * `break` included), so a reply written after it is never sent. Such a
   * write is reported as `ReplyError` (code `ERR_STREAM_DESTROYED`) when
   * the request closes; `request.socket.iterator({ destroyOnReturn: false })`
   * keeps the socket open. A write after `end()` is reported too
   * (`ERR_STREAM_WRITE_AFTER_END`), and so is a reply still being sent when
   * the request closes and the client resets the connection (its system
   * code), unless the request was aborted (its reason is reported instead).
   * (A client that resets while the handler still runs is the client's
   * disconnect: the handler's own reads and writes fail with it.) A write given a callback is
   * the caller's to check: its callback receives the failure.
   */
  readonly socket: Socket
}

/**
 * One received datagram (UDP or Unix datagram). Python's datagram request is
 * the pair `(data, socket)`; here the reply goes through {@link DatagramRequest.reply},
 * sent from the server's own socket to the sender.
 *
 * @example
 * ```ts
 * for await (const request of udpServer) await request.reply(request.data)
 * ```
 */
export interface DatagramRequest extends BaseRequest {
  readonly kind: 'datagram'
  /** The sender: `{ transport: 'udp', host, port, family }` or `{ transport: 'unix-dgram', path }`. */
  readonly clientAddress: SocketAddress
  /** The whole datagram, never truncated (oversized ones never get here). */
  readonly data: Uint8Array
  /**
   * Sends `data` as one datagram to the sender, from the server's socket.
   *
   * Abort behaviour: a reply already handed to the kernel is not recalled.
   *
   * @throws DatagramTooLargeError when the socket cannot send that much;
   *   ReplyError when the sender has no address (an unbound Unix datagram
   *   client) or sending fails, or (code `SS_ERR_REQUEST_ENDED`) when a
   *   `forked()` child replies after its handler returned: the parent relays
   *   replies only while the request runs.
   */
  reply(data: Uint8Array | string): Promise<void>
}

/**
 * One job from a source that is not a socket (a table of jobs, a queue):
 * its data, its id, and which attempt this is. Its source records how it
 * ended: done with a result, failed with an error (retried while attempts
 * remain), or given back unrun. `serve()` records it from the handler:
 * the value the handler returns is the result (or, when it returns
 * nothing, the text it wrote with {@link JobRequest.write}); a throw, a
 * `timeoutMs` that ran out or a crashed `forked()` child is a failure.
 * A handler may also record the outcome itself, and the first one
 * recorded stays. A job closed with no outcome (a policy that stopped
 * before running it) is given back.
 *
 * Sources make jobs with `Job` (`@socketserver/core`), which implements
 * all of this over one function that stores the outcome.
 *
 * @example
 * ```ts
 * await serve(source, async (job: JobRequest) => {
 *   const { to } = job.data as { to: string }
 *   return { sent: await sendMail(to, { signal: job.signal }) }
 * }, { signal, timeoutMs: 30_000 })
 * ```
 */
export interface JobRequest extends BaseRequest {
  readonly kind: 'job'
  /** The source the job comes from. */
  readonly clientAddress: SourceAddress
  /** The job's id in its source. */
  readonly id: string
  /** The job's payload, as it was enqueued (a JSON value for the table sources). */
  readonly data: unknown
  /** 1 on the first run; higher when an earlier attempt failed or its worker died mid-job. */
  readonly attempt: number
  /** The most attempts its source makes before the job is dead. */
  readonly maxAttempts: number
  /**
   * Appends text to the job's output. When the handler returns nothing
   * (`undefined`), the output is the job's result.
   *
   * @param chunk - Text, or bytes (decoded as UTF-8).
   */
  write(chunk: string | Uint8Array): void
  /**
   * Records the job as done with `result` (a JSON value for the table
   * sources). Ignored when an outcome was recorded already.
   *
   * @param result - What the job came to; default none (`null` in a table).
   */
  complete(result?: unknown): void
  /**
   * Records the job as failed with `error`; its source retries it while
   * attempts remain. Ignored when an outcome was recorded already.
   *
   * @param error - Why; its message is stored.
   */
  fail(error: unknown): void
  /**
   * Gives the job back to its source unrun: this attempt is not counted,
   * and the job may run again after `delayMs`. Ignored when an outcome was
   * recorded already.
   *
   * @param options - `delayMs`: how long before it may run again (default 0).
   */
  giveBack(options?: { delayMs?: number }): void
  /** What was recorded so far, if anything. */
  readonly outcome: JobOutcome | undefined
}

/** How a job ended, as its source records it. */
export type JobOutcome =
  | { readonly state: 'done'; readonly result: unknown }
  | { readonly state: 'failed'; readonly error: unknown }
  | { readonly state: 'given-back'; readonly delayMs: number }

/** Every kind of request. */
export type Request = StreamRequest | DatagramRequest | JobRequest

/** The requests that come from a socket: a connection or a datagram. */
export type SocketRequest = StreamRequest | DatagramRequest

/**
 * A server: bound, listening, and an async iterable of the requests it
 * accepts. Closing it ends every iteration with `done`.
 */
export interface Server<R extends Request = Request> extends AsyncIterable<R>, AsyncDisposable {
  /**
   * An iterator of the requests the server accepts; each request goes to
   * one iterator. It may offer the batch pulls of {@link RequestIterator}.
   */
  [Symbol.asyncIterator](): RequestIterator<R>
  /**
   * Where the server listens (the real port when bound to port 0); for a
   * source of jobs, `{ transport: 'source', name }`.
   */
  readonly address: ServerAddress<R>
  /** The listening socket's file descriptor, or -1 before bind and after close. */
  fileno(): number
  /**
   * Stops listening, ends every iteration, releases the port or removes the
   * socket file we created. Idempotent; resolves once the address is free.
   */
  close(): Promise<void>
  /** Whether {@link Server.close} has been called. */
  readonly closed: boolean
  /**
   * Optional: stops handing out requests (every iteration ends with `done`)
   * while keeping what running requests need to reply, such as a datagram
   * server's socket; `close()` follows once they have ended. `serve()` calls
   * it, where a server has it, when it stops, and `close()` otherwise. A
   * server that wraps another forwards it, so that the wrapper stops with
   * the same semantics. Our datagram servers have it; stream servers close
   * their listener at once instead (each running request has its own
   * connection).
   */
  stopAccepting?(): void
  /**
   * Optional: tells `observer` what the server refused and when it closed,
   * until the returned function is called. `serve()` observes the server it
   * serves: drops reach its `handleError`, and a close by other means
   * (`server.close()`, the server's own signal) begins its stop, so running
   * requests are told and the drain is bounded. A server without it still
   * works with `serve()`: a close is then noticed when iteration ends. A
   * wrapper forwards it to the server it wraps (and may add drops of its
   * own). Our servers have it; they also publish the same facts on the
   * diagnostics channels (`socketserver:server:drop`, `...:close`).
   *
   * @param observer - Told of each drop and, once, of the close.
   * @returns Stops telling `observer`.
   * @example
   * ```ts
   * const stop = server.observe?.({ dropped: (error) => log(error), closed: () => log('closed') })
   * ```
   */
  observe?(observer: ServerObserver): () => void
}

/**
 * The address of a server of `R`: a socket's for socket requests, a
 * source's for jobs (both for a server of every kind).
 */
export type ServerAddress<R extends Request> = R extends JobRequest ? SourceAddress : SocketAddress

/** What a server tells an observer (see {@link Server.observe}). */
export interface ServerObserver {
  /**
   * A request refused before any handler saw it (`OverflowError`,
   * `DatagramTooLargeError`, `WaitTimeoutError`) or an accept that failed
   * (`DescriptorsExhaustedError`). The server keeps serving.
   */
  dropped(error: Error): void
  /** The server stopped handing out requests: `close()` or `stopAccepting()` was called. Told once. */
  closed(): void
}

/**
 * What a server's iterator is: an async iterator of requests that may also
 * hand over requests that are ready without a promise per request. Both
 * methods are optional; a policy that finds them starts every ready
 * request in one turn (`pooled()` and `forked()` use them). A wrapper
 * server that hands out the same requests forwards them.
 *
 * Measured (2026-12-01, `pnpm bench --runs 3 --only "ping-pong 64 B x 64"`,
 * two interleaved runs without both against two with both, ratio to raw
 * Node): UDP 0.88-0.91 with them, 0.82-0.84 without; Unix datagrams
 * 0.90-0.91 with, 0.88-0.90 without; TCP and Unix stream the same within
 * noise (0.97-1.03).
 */
export interface RequestIterator<R> extends AsyncIterator<R> {
  /** Optional: the next request if one is ready now, else undefined (never waits, never ends). */
  takeNow?(): R | undefined
  /**
   * Optional: `next()` with the result handed to `deliver` instead of a
   * promise: synchronously when a request arrives, or at once if one is
   * ready or the iteration is over. `room` is how many requests the caller
   * could start now (its free slots; default 1): a source that fetches on
   * demand may fetch that many at once (a table of jobs claims them in one
   * statement) and hand the rest out through `takeNow()`.
   */
  takeLater?(deliver: (result: IteratorResult<R, undefined>) => void, room?: number): void
}

/**
 * A handler object made for one request, as `BaseRequestHandler` instances
 * are. `run()` performs `setup()`, `handle()`, `finish()`; what it resolves
 * with is a job's result.
 */
export interface RequestHandlerInstance {
  run(): Promise<unknown>
}

/**
 * A handler class: constructed once per request (Python's
 * `RequestHandlerClass`). `BaseRequestHandler` and its subclasses from
 * `@socketserver/handlers` are such classes.
 */
export interface RequestHandlerClass<R extends Request = Request> {
  new (request: R): RequestHandlerInstance
}

/**
 * A plain function handler. It may return a promise (awaited) and may be a
 * duplex pipeline: `(request) => pipe(request, transform, request)`.
 */
export type RequestHandlerFunction<R extends Request = Request> = (request: R) => unknown

/** A class or a function that serves one request. */
export type Handler<R extends Request = Request> = RequestHandlerClass<R> | RequestHandlerFunction<R>

/**
 * A concurrency policy: given the function that serves one request, an
 * it-pipe transform from requests to outcomes. `sequential()`, `pooled()`
 * return policies.
 *
 * @example
 * ```ts
 * await pipe(server, pooled({ concurrency: 8 })(serveOne), drain)
 * ```
 */
export interface Policy {
  <R, O>(run: RunRequest<R, O>): (source: AsyncIterable<R>) => Outcomes<O>
  /**
   * A policy that runs requests with a handler of its own (`forked()`: the
   * module's, in child processes) sets this; `serve()` then uses it instead
   * of its handler argument.
   */
  readonly handler?: Handler<Request>
}

/**
 * The function a policy is given: serves one request and resolves with its
 * outcome (`serve()`'s never rejects). It may also have a callback form.
 */
export interface RunRequest<R, O> {
  (request: R): Promise<O>
  /**
   * Optional: serves the request like a call, but reports through callbacks:
   * `settled(outcome)`, or `failed(error)` for a run that could not serve at
   * all. A waiting request then holds no promise of its own. `serve()`'s run
   * has it; `pooled()` and `forked()` use it.
   *
   * Measured (2026-12-01, `pnpm bench --runs 3 --only "ping-pong 64 B x 64"`,
   * two interleaved runs without it against two with it, ratio to raw
   * Node): UDP 0.88-0.91 with it, 0.84-0.86 without; Unix datagrams
   * 0.90-0.91 with, 0.89 without; TCP and Unix stream the same within noise.
   */
  readonly runWithCallbacks?: (request: R, settled: (outcome: O) => void, failed: (error: unknown) => void) => void
}

/**
 * What a policy stage yields: the outcome of each request as it finishes.
 */
export interface Outcomes<O> extends AsyncIterable<O> {
  /**
   * Optional: from now on, drop outcomes as requests finish; iteration
   * yields nothing more and only ends (or fails) as before. `serve()` calls
   * it when nothing reads outcomes (no `serviceActions`).
   *
   * Measured (2026-12-01, `pnpm bench --runs 3 --only "ping-pong 64 B x 64"`,
   * two interleaved runs without it against two with it, ratio to raw
   * Node): UDP 0.88-0.91 with it, 0.76-0.81 without; Unix datagrams
   * 0.90-0.91 with, 0.81-0.86 without; TCP and Unix stream the same within
   * noise.
   */
  discardOutcomes?(): void
}
