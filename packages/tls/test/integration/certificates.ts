// Certificates made by openssl for the tests, in a temp directory: a CA,
// a server certificate for localhost and one for other.test (SNI), a
// client certificate the CA signed, one the CA signed that expired in
// 2020, and one from another CA.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Certificates {
  readonly dir: string
  readonly ca: Buffer
  readonly server: { key: Buffer; cert: Buffer }
  readonly other: { key: Buffer; cert: Buffer }
  readonly client: { key: Buffer; cert: Buffer }
  readonly stranger: { key: Buffer; cert: Buffer }
  readonly expired: { key: Buffer; cert: Buffer }
  readonly file: (name: string) => string
  readonly remove: () => void
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
}

/** A key and a certificate for `cn` signed by `caName` (or self-signed when it is undefined). */
function issue(dir: string, name: string, cn: string, caName: string | undefined, serverName?: string): void {
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`)
  const extensions = serverName === undefined ? [] : ['-extfile', `${name}.ext`]
  if (serverName !== undefined) {
    execFileSync('sh', ['-c', `printf 'subjectAltName=DNS:${serverName}\\n' > ${name}.ext`], { cwd: dir })
  }
  if (caName === undefined)
    openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-signkey', `${name}-key.pem`, '-out', `${name}.pem`, '-days', '2', ...extensions)
  else
    openssl(
      dir,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${caName}.pem`,
      '-CAkey',
      `${caName}-key.pem`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      ...extensions,
    )
}

export function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), 'ss-tls-'))
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca-key.pem',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=socketserver test CA',
  )
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca2-key.pem',
    '-out',
    'ca2.pem',
    '-days',
    '2',
    '-subj',
    '/CN=another CA',
  )
  issue(dir, 'server', 'localhost', 'ca', 'localhost')
  issue(dir, 'other', 'other.test', 'ca', 'other.test')
  issue(dir, 'client', 'client', 'ca')
  issue(dir, 'stranger', 'stranger', 'ca2')
  // Dates in the past need `openssl ca` (x509 -req only counts days from now).
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'expired-key.pem', '-out', 'expired.csr', '-subj', '/CN=expired')
  execFileSync(
    'sh',
    [
      '-c',
      "touch index.txt && echo 01 > serial && printf '[ca]\\ndefault_ca=test\\n[test]\\ndatabase=index.txt\\nnew_certs_dir=.\\nserial=serial\\ndefault_md=sha256\\npolicy=any\\n[any]\\ncommonName=supplied\\n' > ca.cnf",
    ],
    { cwd: dir },
  )
  openssl(
    dir,
    'ca',
    '-batch',
    '-config',
    'ca.cnf',
    '-cert',
    'ca.pem',
    '-keyfile',
    'ca-key.pem',
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20200102000000Z',
    '-in',
    'expired.csr',
    '-out',
    'expired.pem',
    '-notext',
  )
  const read = (file: string): Buffer => readFileSync(join(dir, file))
  const pair = (name: string) => ({ key: read(`${name}-key.pem`), cert: read(`${name}.pem`) })
  return {
    dir,
    ca: read('ca.pem'),
    server: pair('server'),
    other: pair('other'),
    client: pair('client'),
    stranger: pair('stranger'),
    expired: pair('expired'),
    file: (name) => join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
