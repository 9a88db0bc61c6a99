// The STATS line of a `pnpm stress` server, answered on SIGUSR2:
// "STATS <rssKb> <fds> <heapKb> <childPids>" (heap: JS heap used plus
// external memory such as Buffers), after a full collection (the servers
// run with --expose-gc), so RSS shows what is kept, not what the collector
// has not got round to yet.
import { readdirSync, readFileSync } from 'node:fs'

/**
 * Prints the STATS line on each SIGUSR2.
 * @param {() => readonly number[]} childPids the pids of the server's children (forked children, workers)
 */
export function answerStatsOnSignal(childPids) {
  process.on('SIGUSR2', () => {
    globalThis.gc?.()
    const rss = /VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'
    const fds = readdirSync('/proc/self/fd').length
    const { heapUsed, external } = process.memoryUsage()
    console.log(`STATS ${rss} ${fds} ${Math.round((heapUsed + external) / 1024)} ${childPids().join(',')}`)
  })
}
