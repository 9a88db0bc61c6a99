/**
 * A compliance suite for policies: what `serve()` relies on from any
 * it-pipe stage that runs requests, ours or one written from the public
 * `Policy` contract.
 *
 * @module
 */

import type { Policy, RunRequest, StreamRequest } from '@socketserver/core'
import { describe, expect, test } from 'vitest'
import { connect } from '../clients/loopback-client.js'
import { Gate } from '../gate.js'
import { listen, serveInBackground } from '../listen.js'

/** A source of the numbers 1 to `count` that records whether its `return()` was called. */
function numbers(count: number): AsyncIterable<number> & { returned: boolean; pulled: number } {
  const source = {
    returned: false,
    pulled: 0,
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<number, undefined>> => {
        if (source.returned || source.pulled >= count) return { done: true, value: undefined }
        source.pulled++
        return { done: false, value: source.pulled }
      },
      return: async (): Promise<IteratorResult<number, undefined>> => {
        source.returned = true
        return { done: true, value: undefined }
      },
    }),
  }
  return source
}

async function collect<T>(outcomes: AsyncIterable<T>): Promise<T[]> {
  const seen: T[] = []
  for await (const outcome of outcomes) seen.push(outcome)
  return seen
}

const ascending = (a: number, b: number): number => a - b

/**
 * Declares tests every policy must pass: each request of the source runs
 * once and its outcome is yielded, whether the run is called or its
 * callback form (`runWithCallbacks`) is used; iteration ends only after the
 * source ended and the running requests finished; a failing run or source
 * ends iteration with that error; a `break` ends the source; where offered,
 * `discardOutcomes()` still runs every request; and under `serve()`, a stop
 * lets running requests finish their replies.
 *
 * @param title - The describe block's title.
 * @param make - Makes a new policy for each test.
 * @example
 * ```ts
 * describePolicyCompliance('pooled({ concurrency: 2 })', () => pooled({ concurrency: 2 }))
 * ```
 */
export function describePolicyCompliance(title: string, make: () => Policy): void {
  describe(title, () => {
    test('runs every request of the source once and yields each outcome', async () => {
      const ran: number[] = []
      const run = async (n: number): Promise<number> => {
        ran.push(n)
        return n * 10
      }
      const outcomes = await collect(make()(run)(numbers(8)))
      expect(ran.sort(ascending)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
      expect(outcomes.sort(ascending)).toEqual([10, 20, 30, 40, 50, 60, 70, 80])
    })

    test('a run with a callback form gets the same outcomes, however the policy calls it', async () => {
      const ran: number[] = []
      const run: RunRequest<number, number> = Object.assign(
        async (n: number): Promise<number> => {
          ran.push(n)
          return n + 1
        },
        {
          runWithCallbacks: (n: number, settled: (outcome: number) => void): void => {
            ran.push(n)
            queueMicrotask(() => settled(n + 1))
          },
        },
      )
      const outcomes = await collect(make()(run)(numbers(5)))
      expect(ran.sort(ascending)).toEqual([1, 2, 3, 4, 5])
      expect(outcomes.sort(ascending)).toEqual([2, 3, 4, 5, 6])
    })

    test('iteration ends only once the source ended and every running request finished', async () => {
      const gate = new Gate()
      let finished = 0
      const run = async (n: number): Promise<number> => {
        await gate.wait()
        finished++
        return n
      }
      let ended = false
      const iterating = collect(make()(run)(numbers(3))).then((outcomes) => {
        ended = true
        return outcomes
      })
      // Every turn the policy could take to end early passes here.
      await new Promise((resolve) => setImmediate(resolve))
      expect(ended).toBe(false)
      gate.open()
      expect((await iterating).sort(ascending)).toEqual([1, 2, 3])
      expect(finished).toBe(3)
    })

    test('a run that fails ends iteration with its error', async () => {
      const failure = new Error('run failed')
      const run = async (n: number): Promise<number> => {
        if (n === 2) throw failure
        return n
      }
      await expect(collect(make()(run)(numbers(3)))).rejects.toBe(failure)
    })

    test('a source that fails ends iteration with its error', async () => {
      const failure = new Error('source failed')
      const source: AsyncIterable<number> = {
        [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(failure) }),
      }
      await expect(collect(make()(async (n: number) => n)(source))).rejects.toBe(failure)
    })

    test('a break ends the source: its return() is called and it is pulled no further', async () => {
      const source = numbers(1_000)
      for await (const _ of make()(async (n: number) => n)(source)) break
      expect(source.returned).toBe(true)
      expect(source.pulled).toBeLessThan(1_000)
    })

    test('discardOutcomes(), where offered, still runs every request and ends', async () => {
      const ran: number[] = []
      const outcomes = make()(async (n: number) => {
        ran.push(n)
        return n
      })(numbers(6))
      outcomes.discardOutcomes?.()
      const seen = await collect(outcomes)
      expect(ran.sort(ascending)).toEqual([1, 2, 3, 4, 5, 6])
      if (outcomes.discardOutcomes !== undefined) expect(seen).toEqual([])
    })

    test('under serve(): a stop tells the running request, whose reply still goes out, and serve() resolves', async () => {
      const server = await listen('tcp4')
      const running = new Gate()
      const serving = serveInBackground(
        server,
        async (request: StreamRequest) => {
          const { value } = await request.source.next()
          running.open()
          await new Promise((resolve) => request.stopping.addEventListener('abort', resolve, { once: true }))
          request.socket.end(`done ${Buffer.from(value ?? []).toString()}\n`)
        },
        { policy: make() },
      )
      const client = await connect(server.address)
      await client.send('hello')
      await running.wait()
      await serving.stop()
      expect(await client.readLine()).toBe('done hello\n')
      expect(serving.errors).toEqual([])
      client.destroy()
    })
  })
}
