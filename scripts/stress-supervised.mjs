// The server side of `pnpm stress`'s tcp:processes case: a supervisor with
// two workers (scripts/stress-worker.mjs) on one TCP listener, restarting
// them one by one every STRESS_ROLL_MS (2 s by default) for as long as it runs. Prints "READY <address>";
// on SIGUSR2 prints "STATS <rssKb> <fds> <heapKb> <workerPids>" of the
// supervisor, as stress-server.mjs does; SIGTERM stops.
import { fileURLToPath } from 'node:url'
import { answerStatsOnSignal } from './lib/stress-stats.mjs'

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
answerStatsOnSignal(() => supervisor.pids)
process.on('SIGTERM', () => {
  rolling = false
  void supervisor.stop()
})
console.log(`READY ${formatAddress(supervisor.addresses[0])}`)
await supervisor.done
