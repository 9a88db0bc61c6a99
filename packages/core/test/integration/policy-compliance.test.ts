// Every policy passes the same suite: ours, and one written from the public
// Policy contract alone.
import { type Outcomes, type Policy, pooled, type RunRequest, sequential } from '@socketserver/core'
import { describePolicyCompliance } from '@socketserver/testing'

/**
 * A policy of another library: two requests at a time, outcomes in the
 * order requests finish, built on nothing but the call form of `run`.
 */
const twoAtATime: Policy =
  <R, O>(run: RunRequest<R, O>) =>
  (source: AsyncIterable<R>): Outcomes<O> => ({
    async *[Symbol.asyncIterator]() {
      const running = new Map<number, Promise<{ id: number; outcome: O }>>()
      let next = 0
      const iterator = source[Symbol.asyncIterator]()
      try {
        for (;;) {
          while (running.size < 2) {
            const result = await iterator.next()
            if (result.done === true) break
            const id = next++
            running.set(
              id,
              run(result.value).then((outcome) => ({ id, outcome })),
            )
          }
          if (running.size === 0) return
          const { id, outcome } = await Promise.race(running.values())
          running.delete(id)
          yield outcome
        }
      } finally {
        await iterator.return?.()
      }
    },
  })

describePolicyCompliance('sequential()', () => sequential())
describePolicyCompliance('pooled()', () => pooled())
describePolicyCompliance('pooled({ concurrency: 1 })', () => pooled({ concurrency: 1 }))
describePolicyCompliance('a policy written from the public contract (two at a time)', () => twoAtATime)
