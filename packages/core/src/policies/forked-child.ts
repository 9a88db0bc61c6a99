/**
 * The program each `forked()` child runs: import the handler module once,
 * then serve the requests the parent sends, one at a time.
 *
 * @module
 * @internal
 */

import type { Socket } from 'node:net'
import { type Address, formatAddress, type SocketAddress } from '../address.js'
import { ClientDisconnectedError, HandlerError, ReplyError, RequestTimeoutError } from '../errors.js'
import { Job } from '../jobs/job.js'
import { requestRunner } from '../request-runner.js'
import { Datagram } from '../servers/datagram.js'
import { StreamConnection } from '../servers/stream-connection.js'
import type { Handler, JobOutcome, JobRequest, Request, Server } from '../types.js'
import {
  deserializeError,
  type FailureKind,
  type FromChild,
  MODULE_ENV,
  type RelayedOutcome,
  type SerializedError,
  serializeError,
  type ToChild,
} from './forked-protocol.js'

function send(message: FromChild): void {
  // With a callback, a closed channel (the parent let us go) is not an
  // uncaught 'error'; the 'disconnect' handler ends this process.
  if (process.connected) process.send?.(message, undefined, {}, () => {})
}

/** What the handler sees as `request.server` in a child: the parent's address, nothing to accept. */
class RemoteServer implements Server<Request> {
  readonly address: Address
  readonly closed = false

  constructor(address: Address) {
    this.address = address
  }

  fileno(): number {
    return -1
  }

  async close(): Promise<void> {}

  async [Symbol.asyncDispose](): Promise<void> {}

  [Symbol.asyncIterator](): AsyncIterator<Request, undefined> {
    return { next: async () => ({ done: true, value: undefined }) }
  }
}

async function loadHandler(): Promise<Handler<Request>> {
  const specifier = process.env[MODULE_ENV]
  if (specifier === undefined) throw new Error(`the ${MODULE_ENV} environment variable is not set`)
  const module = (await import(specifier)) as { default?: unknown }
  if (typeof module.default !== 'function') {
    throw new Error('its default export is not a handler (a handler class or a function)')
  }
  return module.default as Handler<Request>
}

async function main(): Promise<void> {
  // The parent is gone (or let us go): nothing more will come, so exit.
  process.on('disconnect', () => process.exit(0))
  let handler: Handler<Request>
  try {
    handler = await loadHandler()
  } catch (error) {
    const message: FromChild = { type: 'load-error', message: error instanceof Error ? error.message : String(error) }
    process.send?.(message, () => process.exit(1))
    return
  }
  // A child may run several requests at once (childConcurrency): each has
  // its own entry, found by the id the parent gave it.
  const running = new Map<number, Request>()
  const failures = new Map<Request, unknown>()
  const outcomes = new Map<Request, JobOutcome>()
  const run = requestRunner(handler, { handleError: (error, request) => request !== undefined && failures.set(request, error) })
  const replies = new Map<string, { resolve: () => void; reject: (error: Error) => void }>()
  let seq = 0

  process.on('message', (message: ToChild, handle?: unknown) => {
    if (message.type === 'reply-result') {
      const key = `${message.id}:${message.seq}`
      const pending = replies.get(key)
      replies.delete(key)
      if (message.error === undefined) pending?.resolve()
      else pending?.reject(deserializeError(message.error))
      return
    }
    if (message.type === 'stop') {
      running.get(message.id)?.stop()
      return
    }
    if (message.type === 'abort') {
      running.get(message.id)?.abort(new Error('Aborted by the parent process (a timeout or the drain deadline)'))
      return
    }
    if (message.type === 'stream' && handle === undefined) {
      // The parent's socket was gone before it could be handed over.
      send({ type: 'done', id: message.id })
      return
    }
    const server = new RemoteServer(message.serverAddress)
    let request: Request
    if (message.type === 'job') {
      // The parent's job is the one its source records; this one's outcome goes back with 'done'.
      request = new Job({
        ...message.job,
        server: server as Server<JobRequest>,
        record: (job, outcome) => {
          outcomes.set(job, outcome)
          return Promise.resolve()
        },
      })
    } else if (message.type === 'stream') {
      const socket = handle as Socket
      // What the parent had read and not handed out comes first.
      if (message.unread !== undefined)
        socket.unshift(Buffer.from(message.unread.buffer, message.unread.byteOffset, message.unread.byteLength))
      request = new StreamConnection(socket, message.clientAddress, server)
      for (const [key, value] of Object.entries(message.facts ?? {})) Object.defineProperty(request, key, { value, enumerable: true })
    } else {
      const id = message.id
      request = new Datagram(message.data, message.clientAddress, server, (data, to) => {
        // The parent relays replies only while the request runs.
        if (!running.has(id)) return Promise.reject(lateReplyError(to))
        const key = `${id}:${++seq}`
        const done = new Promise<void>((resolve, reject) => replies.set(key, { resolve, reject }))
        send({ type: 'reply', id, seq, data })
        return done
      })
    }
    running.set(message.id, request)
    void run(request).then(() => {
      running.delete(message.id)
      const failure = failures.get(request)
      failures.delete(request)
      const outcome = outcomes.get(request)
      outcomes.delete(request)
      // The parent rebuilds the error with the client's address.
      const done: FromChild = { type: 'done', id: message.id, ...(failure === undefined ? {} : failureMessage(failure)) }
      if (outcome !== undefined) done.outcome = relayedOutcome(outcome)
      try {
        send(done)
      } catch (error) {
        // A job's result that cannot cross the channel: the job fails, saying why.
        const refusal = new Error(`Cannot hand the job's result to the parent process: ${(error as Error).message}`)
        send({ type: 'done', id: message.id, error: serializeError(refusal), failure: 'handler' })
      }
    })
  })
  send({ type: 'ready' })
}

/** A failure as the parent rebuilds it: what was thrown (or the cause of a disconnect), and which kind it was. */
function failureMessage(failure: unknown): { error: SerializedError; failure: FailureKind; timeoutMs?: number } {
  if (failure instanceof ClientDisconnectedError) return { error: serializeError(failure.cause), failure: 'disconnect' }
  if (failure instanceof RequestTimeoutError) return { error: serializeError(failure), failure: 'timeout', timeoutMs: failure.timeoutMs }
  if (failure instanceof ReplyError) return { error: serializeError(failure), failure: 'reply' }
  return { error: serializeError(failure instanceof HandlerError ? failure.cause : failure), failure: 'handler' }
}

/** A job's outcome for the channel: a failure's error flattened. */
function relayedOutcome(outcome: JobOutcome): RelayedOutcome {
  return outcome.state === 'failed' ? { state: 'failed', error: serializeError(outcome.error) } : { ...outcome }
}

/** What a reply after its request ended fails with: the parent no longer relays it. */
function lateReplyError(to: SocketAddress): ReplyError {
  return new ReplyError(
    to,
    `Cannot reply to ${formatAddress(to)}: the request has ended (a forked child relays replies only while its request runs)`,
    'SS_ERR_REQUEST_ENDED',
  )
}

void main()
