import { ABORT_STATE } from './fast-paths.js'

/**
 * A request's abort state, made cheap for the common case where nothing
 * aborts: the `AbortController` is created only when someone reads
 * `request.signal`, and `serve()` learns of an abort through a plain hook
 * instead of an event listener. Found through {@link ABORT_STATE}; its
 * figure is in `fast-paths.ts`.
 *
 * @internal
 */
export class AbortState {
  #controller: AbortController | undefined
  #aborted = false
  #reason: unknown
  #hook: ((reason: unknown) => void) | undefined
  #stopController: AbortController | undefined
  #stopping = false
  #stopReason: unknown

  /** The signal, made on first use (already aborted if the request was). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  get aborted(): boolean {
    return this.#aborted
  }

  get reason(): unknown {
    return this.#reason
  }

  /** Aborts once; later calls do nothing. */
  abort(reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason
    this.#controller?.abort(this.#reason)
    const hook = this.#hook
    if (hook === undefined) return
    // Told a microtask later: not inside the caller's abort(), and after the
    // handler's own reaction to its signal.
    const told = this.#reason
    queueMicrotask(() => hook(told))
  }

  /** The stop notice, made on first use (already aborted if the stop began). */
  get stopping(): AbortSignal {
    if (this.#stopController === undefined) {
      this.#stopController = new AbortController()
      if (this.#stopping) this.#stopController.abort(this.#stopReason)
    }
    return this.#stopController.signal
  }

  /** Whether the stop began. */
  get stopBegan(): boolean {
    return this.#stopping
  }

  /** Marks the stop begun, once; true the first time. */
  beginStop(reason: unknown): boolean {
    if (this.#stopping) return false
    this.#stopping = true
    this.#stopReason = reason
    this.#stopController?.abort(reason)
    return true
  }

  /** Sets the one function told of an abort (the request runner's). */
  onAbort(hook: ((reason: unknown) => void) | undefined): void {
    this.#hook = hook
  }
}

/** A request made by this library. */
export interface HasAbortState {
  readonly [ABORT_STATE]: AbortState
}

/** The request's abort state, if it is one of ours. */
export function abortStateOf(request: object): AbortState | undefined {
  return (request as Partial<HasAbortState>)[ABORT_STATE]
}
