// The server side of `pnpm stress`'s tcp:processes case: a supervisor with
// two workers (scripts/stress-worker.mjs) on one TCP listener, restarting
// them one by one every STRESS_ROLL_MS (2 s by default) for as long as it runs. Prints "READY <address>";
// on SIGUSR2 prints "STATS <rssKb> <fds> <heapKb> <workerPids>" of the
// supervisor, as stress-server.mjs does; SIGTERM stops.
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const { formatAddress } = await import('../packages/core/dist/index.js')
const { Supervisor } = await import('../packages/supervisor/dist/index.js')
const supervisor = await Supervisor.start({
  command: [process.execPath, fileURLToPath(new URL('./stress-worker.mjs', import.meta.url))],
  listeners: [{ transport: 'tcp', host: '127.0.0.1', port: 0 }],
  processes: 2,
  stopTimeoutMs: 5_000,
})
// Roll the workers for as long as this runs; each restart waits for the last.
let rolling = true
const roll = async () => {
  while (rolling) {
    await new Promise((resolve) => setTimeout(resolve, Number(process.env.STRESS_ROLL_MS ?? 2_000)))
    if (rolling) await supervisor.restart().catch((error) => console.error(`restart failed: ${error.message}`))
  }
}
void roll()
process.on('SIGUSR2', () => {
  globalThis.gc?.()
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'
  const fds = readdirSync('/proc/self/fd').length
  const { heapUsed, external } = process.memoryUsage()
  console.log(`STATS ${rss} ${fds} ${Math.round((heapUsed + external) / 1024)} ${supervisor.pids.join(',')}`)
})
process.on('SIGTERM', () => {
  rolling = false
  void supervisor.stop()
})
console.log(`READY ${formatAddress(supervisor.addresses[0])}`)
await supervisor.done
