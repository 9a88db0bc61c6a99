/**
 * Handlers as plain functions, for idiomatic TypeScript.
 *
 * @module
 */

import type { StreamRequest } from '@socketserver/core'
import { pipe } from 'it-pipe'
import type { Source, Transform } from 'it-stream-types'
import { BufferedReader, type ReadlineOptions } from './buffered-reader.js'
import { BufferedWriter } from './buffered-writer.js'

/** What a line handler returns: a reply to write, or nothing. */
// biome-ignore lint/suspicious/noConfusingVoidType: a callback that returns nothing infers `void`, and must be accepted here.
export type LineReply = string | Uint8Array | undefined | void

/**
 * Makes a handler for line protocols: it reads each line (decoded as UTF-8,
 * newline removed), calls `respond`, and writes what it returns, until the
 * client ends its side. Writes honour backpressure.
 *
 * @param respond - Called for each line; its reply (if any) is written as is.
 * @param options - `maxLength` of a line (a longer one fails the request
 *   with `LineTooLongError`).
 * @returns A function handler for `serve()`.
 * @example
 * ```ts
 * await serve(server, lineHandler((line) => `${line.toUpperCase()}\n`), { signal })
 * ```
 */
export function lineHandler(
  respond: (line: string, request: StreamRequest) => LineReply | Promise<LineReply>,
  options: ReadlineOptions = {},
): (request: StreamRequest) => Promise<void> {
  return async (request) => {
    const reader = new BufferedReader(request.source)
    const writer = new BufferedWriter(request.socket)
    for await (const line of reader.lines(options)) {
      const text = Buffer.from(line)
        .toString('utf8')
        .replace(/\r?\n$/, '')
      const reply = await respond(text, request)
      if (reply !== undefined && reply !== null) await writer.write(reply)
    }
  }
}

/**
 * Makes a handler from an it-pipe transform: the client's bytes flow through
 * `transform` and back to the client; the write side ends when the
 * transform's output ends.
 *
 * @param transform - From the client's chunks to the reply's chunks.
 * @returns A function handler for `serve()`.
 * @example
 * ```ts
 * const upper = duplexHandler(async function* (source) {
 *   for await (const chunk of source) yield Buffer.from(Buffer.from(chunk).toString().toUpperCase())
 * })
 * await serve(server, upper, { signal })
 * ```
 */
export function duplexHandler(transform: Transform<Source<Uint8Array>, Source<Uint8Array>>): (request: StreamRequest) => Promise<void> {
  return (request) => pipe(request.source, transform, request.sink)
}
