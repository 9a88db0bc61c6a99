// A worker of scripts/stress-supervised.mjs: the stress echo (pooled, the
// same limits as stress-server.mjs) on the listener it inherited.
const { pooled, serve } = await import('../packages/core/dist/index.js')
const { supervisedWorker } = await import('../packages/supervisor/dist/index.js')

const worker = supervisedWorker()
const servers = await worker.servers()
const serving = servers.map((server) =>
  serve(server, (request) => request.sink(request.source), {
    signal: worker.signal,
    policy: pooled({ concurrency: 256 }),
    timeoutMs: 500,
    drainTimeoutMs: 2_000,
    handleError: () => {},
  }),
)
worker.ready()
await Promise.all(serving)
