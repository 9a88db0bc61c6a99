/**
 * The base of class-based handlers.
 *
 * @module
 */

import type { Request, RequestHandlerInstance, Server } from '@socketserver/core'

/**
 * The base class of handler classes: one instance per request, with async
 * `setup()`, `handle()` and `finish()` hooks. Python counterpart:
 * `socketserver.BaseRequestHandler`.
 *
 * As in Python, `finish()` runs when `handle()` throws, but not when
 * `setup()` throws. Unlike Python, the hooks are async and the request is
 * served by `run()`, which `serve()` calls, not by the constructor.
 *
 * @example
 * ```ts
 * class Hello extends BaseRequestHandler<StreamRequest> {
 *   override async handle() {
 *     this.request.socket.write(`hello ${formatAddress(this.clientAddress)}\n`)
 *   }
 * }
 * await serve(server, Hello, { signal })
 * ```
 */
export class BaseRequestHandler<R extends Request = Request> implements RequestHandlerInstance {
  /** The request: a `StreamRequest`, a `DatagramRequest` or a `JobRequest`. */
  readonly request: R
  /** The peer (Python's `client_address`); a job's source for a job. */
  readonly clientAddress: R['clientAddress']
  /** The server that accepted the request. */
  readonly server: Server<Request>
  #handleFailed = false

  /** @param request - The request to serve. */
  constructor(request: R) {
    this.request = request
    this.clientAddress = request.clientAddress
    this.server = request.server
  }

  /** Whether `handle()` threw; `finish()` may look. */
  protected get handleFailed(): boolean {
    return this.#handleFailed
  }

  /** Runs before `handle()`. Does nothing by default. */
  async setup(): Promise<void> {}

  /**
   * Serves the request. Does nothing by default. For a job, what it
   * returns is the job's result.
   */
  async handle(): Promise<unknown> {
    return undefined
  }

  /** Runs after `handle()`, even when it threw. Does nothing by default. */
  async finish(): Promise<void> {}

  /**
   * Serves the request: `setup()`, then `handle()`, then `finish()` (also
   * when `handle()` throws; not when `setup()` throws).
   *
   * Abort behaviour: the hooks are not interrupted; they should watch
   * `this.request.signal`. When it aborts, the connection is destroyed, so
   * pending reads and writes reject.
   *
   * @returns What `handle()` returned (a job's result).
   * @throws Whatever the hooks throw.
   */
  async run(): Promise<unknown> {
    await this.setup()
    try {
      return await this.handle()
    } catch (error) {
      this.#handleFailed = true
      throw error
    } finally {
      await this.finish()
    }
  }
}
