// A worker of bench/servers/supervised.mjs: our pooled echo on the listeners it inherited.
const { pooled, serve } = await import('../../packages/core/dist/index.js')
const { supervisedWorker } = await import('../../packages/supervisor/dist/index.js')

const worker = supervisedWorker()
const servers = await worker.servers()
const echo = (request) => request.sink(request.source)
const serving = servers.map((server) =>
  serve(server, echo, { signal: worker.signal, policy: pooled({ concurrency: 100_000 }), handleError: () => {} }),
)
worker.ready()
await Promise.all(serving)
