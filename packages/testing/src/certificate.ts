/**
 * A self-signed certificate for tests of TLS servers, made by openssl in a
 * temporary directory.
 *
 * @module
 */

import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { registerCleanup } from './cleanup.js'

/** A key and its self-signed certificate, as bytes and as files. */
export interface SelfSignedCertificate {
  /** The private key (PEM). */
  readonly key: Buffer
  /** The certificate (PEM). */
  readonly cert: Buffer
  readonly keyPath: string
  readonly certPath: string
  /** The directory both are in (removed when the test ends). */
  readonly dir: string
}

/**
 * Makes an RSA key and a certificate for `commonName`, valid for a day, with
 * `openssl req -x509`. Inside a test, the files are removed when it ends.
 *
 * @param commonName - The subject's CN. Default `localhost`.
 * @param options - `dir`: where to write (default a new temporary
 *   directory); `name`: the files' stem (default `cert`: `cert.pem`,
 *   `cert-key.pem`).
 * @returns The key and certificate, and where they are.
 * @throws Error when openssl is missing or fails.
 * @example
 * ```ts
 * const { key, cert } = selfSignedCertificate()
 * const server = withTLS(await listen(), { key, cert })
 * ```
 */
export function selfSignedCertificate(commonName = 'localhost', options: { dir?: string; name?: string } = {}): SelfSignedCertificate {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'ss-cert-'))
  if (options.dir === undefined) registerCleanup(() => rmSync(dir, { recursive: true, force: true }))
  const name = options.name ?? 'cert'
  const keyPath = join(dir, `${name}-key.pem`)
  const certPath = join(dir, `${name}.pem`)
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', `/CN=${commonName}`],
    { stdio: 'ignore' },
  )
  return { key: readFileSync(keyPath), cert: readFileSync(certPath), keyPath, certPath, dir }
}
