// The server under test for the many-processes cases: a supervisor and N
// workers (bench/servers/supervised-worker.mjs, our pooled echo) on one TCP
// listener. Usage: node supervised.mjs N
// Prints "READY <address>" once every worker is ready; SIGHUP restarts the
// workers one by one and prints "RESTARTED <ms>" when the last old one is
// gone; SIGTERM stops.
import { fileURLToPath } from 'node:url'
import { readCommandLine, wholeNumber } from '../../scripts/lib/args.mjs'

const {
  positionals: [processes],
} = readCommandLine({
  usage: 'Usage: node bench/servers/supervised.mjs N   (started by bench/run.mjs)',
  positionals: [{ name: 'N', value: wholeNumber(1) }],
})
const { formatAddress } = await import('../../packages/core/dist/index.js')
const { Supervisor } = await import('../../packages/supervisor/dist/index.js')
const supervisor = await Supervisor.start({
  command: [process.execPath, fileURLToPath(new URL('./supervised-worker.mjs', import.meta.url))],
  listeners: [{ transport: 'tcp', host: '127.0.0.1', port: 0 }],
  processes,
})
process.on('SIGTERM', () => void supervisor.stop())
process.on('SIGHUP', () => {
  const started = performance.now()
  supervisor.restart().then(() => console.log(`RESTARTED ${(performance.now() - started).toFixed(0)}`))
})
console.log(`READY ${formatAddress(supervisor.addresses[0])}`)
await supervisor.done
