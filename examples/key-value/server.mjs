// The key-value store of kv.x, served by socketserver: compile kv.x first
// (`socketserver rpcgen kv.x --out . --js`, which writes kv.js), then
//   socketserver serve ./server.mjs --tcp 127.0.0.1:0 --udp 127.0.0.1:0
// With KV_REGISTER=1 it registers with the host's portmapper (rpcbind, or
// `socketserver serve portmap`) once listening, and unregisters on stop.
import { registerWithPortmapper, rpcHandler } from '@socketserver/oncrpc'
import { implementKV_PROG } from './kv.js'

const MAX_ENTRIES = 1024
const store = new Map()

const program = implementKV_PROG({
  KV_V1: {
    KV_PUT: ({ key, value }) => {
      if (!store.has(key) && store.size === MAX_ENTRIES) return 'KV_FULL'
      store.set(key, Uint8Array.from(value)) // a copy: the argument is a view of the request's bytes
      return 'KV_OK'
    },
    KV_GET: (key) => (store.has(key) ? { tag: 'KV_OK', value: store.get(key) } : { tag: 'KV_NOT_FOUND', value: undefined }),
    KV_DELETE: (key) => store.delete(key),
    // The linked list of kv.x, built from the end.
    KV_LIST: () => [...store].reduceRight((next, [key, value]) => ({ entry: { key, value }, next }), undefined),
    KV_COUNT: () => store.size,
    KV_ECHO: (value) => value,
  },
})

export default rpcHandler(program)

// Under --processes this runs once, in the supervisor: every worker serves what it registers.
export async function listening(listeners) {
  if (process.env.KV_REGISTER !== '1') return undefined
  const registration = await registerWithPortmapper(program, listeners)
  return () => registration.unregister()
}
