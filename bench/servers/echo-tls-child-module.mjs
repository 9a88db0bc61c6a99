// TLS ended in the handler, over the raw connection, as a forked() child
// would end it if the parent handed it the raw socket (the alternative to
// withTLS() relaying; measured, not shipped): the child does the
// handshake and the crypto, the parent only hands the connection over.
import { readFileSync } from 'node:fs'
import tls from 'node:tls'

const build = new URL('../.build/', import.meta.url)
const secureContext = tls.createSecureContext({
  key: readFileSync(new URL('tls-key.pem', build)),
  cert: readFileSync(new URL('tls-cert.pem', build)),
})

export default (request) =>
  new Promise((resolve) => {
    const secure = new tls.TLSSocket(request.socket, { isServer: true, secureContext })
    secure.on('error', () => secure.destroy())
    secure.on('close', resolve)
    secure.pipe(secure)
  })
