/**
 * Calls over one stream connection: records read as they come, each call
 * started at once, replies written as they finish (in any order; the xid
 * tells the client which is which), with a bound on the calls running at
 * once and on unsent replies.
 *
 * @module
 * @internal
 */

import { ClientDisconnectedError, type DeliverChunk, type StreamRequest } from '@socketserver/core'
import { RecordDecoder } from '../record/record-decoder.js'
import { IncompleteRecordError } from '../rpc-errors.js'
import type { Dispatcher } from './dispatcher.js'

/** Limits of one connection. */
export interface StreamCallLimits {
  readonly maxRecordSize: number
  readonly maxCallsInFlight: number
}

/**
 * Serves calls until the client ends its side (or serving stops and no
 * record is half read), every reply written; rejects with the
 * connection's failure, or with RecordTooLargeError or
 * IncompleteRecordError after the replies to the calls before it.
 */
export function serveStreamCalls(request: StreamRequest, dispatcher: Dispatcher, limits: StreamCallLimits): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const source = request.source
    const socket = request.socket
    const decoder = new RecordDecoder(limits.maxRecordSize)
    /** Records read and not yet started (past maxCallsInFlight, the rest of a chunk waits here). */
    const waiting: Uint8Array[] = []
    /** The first of `waiting` not started (an index, so that a chunk of many records costs no shifting). */
    let next = 0
    let inFlight = 0
    let reading = false
    let ended = false
    let settled = false
    let waitingForDrain = false
    let failure: unknown

    const settle = (error: unknown): void => {
      if (settled) return
      settled = true
      request.signal.removeEventListener('abort', onAbort)
      socket.off('close', onClose)
      if (error === undefined) resolve()
      else reject(error)
    }
    const onAbort = (): void => settle(request.signal.reason)
    request.signal.addEventListener('abort', onAbort, { once: true })
    // The connection gone while no read waits (the client reset while replies waited for 'drain', say).
    const onClose = (): void => {
      if (!settled && (inFlight > 0 || waitingForDrain || next < waiting.length)) {
        settle(new ClientDisconnectedError(request.clientAddress, new Error('the connection closed before every reply was sent')))
      }
    }
    socket.once('close', onClose)

    const finishIfDone = (): void => {
      if (ended && inFlight === 0 && waiting.length === 0) settle(failure)
    }

    const readMore = (): void => {
      if (reading || ended || settled || waiting.length > 0 || inFlight >= limits.maxCallsInFlight || waitingForDrain) return
      reading = true
      if (source.nextChunk !== undefined) source.nextChunk(onChunk)
      else {
        source.next().then(
          (result) => onChunk(result.done === true ? undefined : result.value),
          (error: Error) => onChunk(undefined, error),
        )
      }
    }

    const write = (reply: Uint8Array): void => {
      if (settled || socket.destroyed) return // the connection failed, and that was reported
      if (!socket.write(reply) && !waitingForDrain) {
        waitingForDrain = true
        socket.once('drain', () => {
          waitingForDrain = false
          readMore()
        })
      }
    }

    const onReply = (reply: Uint8Array): void => {
      inFlight--
      write(reply)
      if (waiting.length > 0) dispatchRecords()
      if (ended) finishIfDone()
      else readMore()
    }

    /** A reporter that threw, or a bug: the connection ends with it, after the replies already on their way. */
    const onDispatchFailure = (error: unknown): void => {
      inFlight--
      failure ??= error
      ended = true
      waiting.length = 0
      next = 0
      finishIfDone()
    }

    /** Starts the calls waiting, while there is room; replies ready at once leave in one write. */
    const dispatchRecords = (): void => {
      // One record (ping-pong): one write, no cork to set up and undo.
      const corked = waiting.length - next > 1
      if (corked) socket.cork()
      try {
        while (next < waiting.length && inFlight < limits.maxCallsInFlight) {
          const record = waiting[next++] as Uint8Array
          const reply = dispatcher.dispatch(record, request, true)
          if (reply === undefined) continue
          if (reply instanceof Uint8Array) write(reply)
          else {
            inFlight++
            reply.then(onReply, onDispatchFailure)
          }
        }
      } catch (error) {
        failure ??= error
        ended = true
        next = waiting.length
      } finally {
        if (corked) socket.uncork()
        if (next === waiting.length) {
          waiting.length = 0
          next = 0
        }
      }
    }

    const onChunk: DeliverChunk = (chunk, error) => {
      reading = false
      if (settled) return
      if (error !== undefined) {
        // The connection failed (a reset, the request aborted): no reply can be sent now.
        settle(error)
        return
      }
      if (chunk === undefined) {
        ended = true
        if (decoder.inRecord) failure = new IncompleteRecordError()
        finishIfDone()
        return
      }
      try {
        decoder.decode(chunk, waiting)
      } catch (error) {
        failure = error
        ended = true
      }
      if (waiting.length > 0) dispatchRecords()
      source.midMessage = decoder.inRecord
      if (ended) finishIfDone()
      else readMore()
    }

    readMore()
  })
}
