/**
 * Which reader a socket feeds: the one set of `data`, `end`, `close` and
 * `error` listeners every connection shares, and the chunks a reader that
 * left after the end hands to the next.
 *
 * @module
 * @internal
 */

import type { Socket } from 'node:net'

/** What the shared listeners tell a socket's current reader. */
export interface ChunkReceiver {
  /** A chunk arrived. */
  receive(chunk: Uint8Array): void
  /** The peer ended its side, or (with `error`) the socket failed. */
  end(error?: Error): void
  /** The socket closed. */
  closed(): void
}

/**
 * Each socket's current reader. The listeners below are shared by every
 * socket and find the reader here: four closures per connection cost more
 * memory than the rest of the reader (a few hundred bytes per idle
 * connection). A `WeakMap` rather than a property stamped on Node's socket:
 * measured the same (2026-12-01, `pnpm bench --only "ping-pong 64 B x 64"`,
 * two interleaved runs each: TCP 0.99-1.00 x raw Node and Unix stream
 * 1.00-1.01 with the map, 1.00-1.01 and 1.05-1.10 with the property, within
 * the 5-10 % between rounds; idle memory 4.17-4.29 KB per connection
 * against 4.25-4.31).
 */
const readers = new WeakMap<Socket, ChunkReceiver>()

/**
 * The chunks a reader that left after the socket's end had not handed out
 * (Node cannot take them back once the stream has ended): the next reader
 * starts with them. Rare, so a `WeakMap` costs nothing that matters.
 */
const leftovers = new WeakMap<Socket, Uint8Array[]>()

function onData(this: Socket, chunk: Uint8Array): void {
  readers.get(this)?.receive(chunk)
}

function onEnd(this: Socket): void {
  readers.get(this)?.end()
}

function onClose(this: Socket): void {
  readers.get(this)?.closed()
}

/**
 * The socket's `error` listener, added once by its owner for the socket's
 * whole life (a socket error without a listener would crash the process):
 * it tells the current reader, if any. One listener rather than two keeps
 * Node from allocating a listener array per connection.
 */
export function onSocketError(this: Socket, error: Error): void {
  readers.get(this)?.end(error)
}

/**
 * Makes `reader` the socket's reader and starts the flow of chunks.
 *
 * @returns What the previous reader left unread after the end, if anything.
 */
export function attachReader(socket: Socket, reader: ChunkReceiver): Uint8Array[] | undefined {
  const leftover = leftovers.get(socket)
  leftovers.delete(socket)
  readers.set(socket, reader)
  socket.on('data', onData)
  socket.on('end', onEnd)
  socket.on('close', onClose)
  socket.resume()
  return leftover
}

/**
 * Detaches the socket's reader and pauses the socket. Chunks it had not
 * handed out go back into the socket (`unshift`), or, when the socket has
 * ended, wait for the next reader.
 */
export function detachReader(socket: Socket, unread: Uint8Array[]): void {
  socket.off('data', onData)
  socket.off('end', onEnd)
  socket.off('close', onClose)
  readers.delete(socket)
  socket.pause()
  if (!socket.readableEnded && !socket.destroyed) for (const chunk of unread.reverse()) socket.unshift(chunk)
  else if (unread.length > 0) leftovers.set(socket, unread)
}
