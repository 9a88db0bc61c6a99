/**
 * The base of class-based handlers.
 *
 * @module
 */

import type { Request, RequestHandlerInstance, Server, SocketAddress } from '@socketserver/core'

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
  /** The request: a `StreamRequest` or a `DatagramRequest`. */
  readonly request: R
  /** The peer (Python's `client_address`). */
  readonly clientAddress: SocketAddress
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

  /** Serves the request. Does nothing by default. */
  async handle(): Promise<void> {}

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
   * @throws Whatever the hooks throw.
   */
  async run(): Promise<void> {
    await this.setup()
    try {
      await this.handle()
    } catch (error) {
      this.#handleFailed = true
      throw error
    } finally {
      await this.finish()
    }
  }
}
