// For `pnpm bench`'s memory figures: a server started with --expose-gc
// answers a "gc" line on stdin with two full collections and "GC_DONE", so
// the bench can read the memory that connections retain apart from the
// garbage their arrival left behind. Both raw Node and ours load this.
import { createInterface } from 'node:readline'

export function collectOnRequest() {
  if (typeof globalThis.gc !== 'function') return
  const lines = createInterface({ input: process.stdin })
  lines.on('line', (line) => {
    if (line !== 'gc') return
    globalThis.gc()
    globalThis.gc()
    console.log('GC_DONE')
  })
  // Reading stdin must not keep a stopping server alive.
  process.stdin.unref?.()
}
