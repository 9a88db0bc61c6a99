// The ONC RPC program of `pnpm stress`'s rpc cases: ECHO (procedure 1)
// sends its opaque argument back. The default export is the handler, for
// serve() in the stress server and for forked() children alike.
import { defineProgram, implement, rpcHandler, xdr } from '../packages/oncrpc/dist/index.js'

export const STRESS_PROGRAM = 0x2000_0777

const Echo = defineProgram({
  name: 'STRESS_PROG',
  number: STRESS_PROGRAM,
  versions: { STRESS_V1: { number: 1, procedures: { ECHO: { number: 1, args: xdr.varOpaque(16_384), result: xdr.varOpaque(16_384) } } } },
})

export default rpcHandler(implement(Echo, { STRESS_V1: { ECHO: (bytes) => bytes } }), {
  // Garbage the misbehaving clients send is expected: report it only when asked.
  onError: (error) => {
    if (process.env.STRESS_LOG_ERRORS) console.error('rpc error', error.message)
  },
})
