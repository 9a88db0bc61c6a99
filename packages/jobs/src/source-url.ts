/**
 * The URL of a table of jobs: which engine, where, and its text without
 * the password.
 *
 * @module
 */

import { JobTableError } from './errors.js'

/** A parsed source URL. */
export type SourceUrl = { readonly engine: 'sqlite'; readonly path: string } | { readonly engine: 'postgres'; readonly url: string }

/**
 * Parses `sqlite:PATH` (relative or absolute; `sqlite:///abs/path` too;
 * `sqlite::memory:` for a private database in memory) or
 * `postgres://USER:PASSWORD@HOST/DB` (`postgresql://` too).
 *
 * @param url - As typed.
 * @returns The engine and its connection details.
 * @throws JobTableError for another scheme or an empty path.
 * @example
 * ```ts
 * parseSourceUrl('sqlite:jobs.db') // { engine: 'sqlite', path: 'jobs.db' }
 * ```
 */
export function parseSourceUrl(url: string): SourceUrl {
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length)
    if (path.startsWith('//')) path = path.slice(2)
    if (path === '') throw new JobTableError(`Cannot use the source ${url}: expected sqlite:PATH, such as sqlite:jobs.db`)
    return { engine: 'sqlite', path }
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return { engine: 'postgres', url }
  throw new JobTableError(
    `Cannot use the source ${JSON.stringify(redactPassword(url))}: expected sqlite:PATH or postgres://USER@HOST/DATABASE`,
  )
}

/**
 * The URL without its password, for messages and the `listening source`
 * line.
 *
 * @param url - A source URL.
 * @returns The same URL without its secret.
 * @example
 * ```ts
 * redactPassword('postgres://app:s3cret@db/jobs') // 'postgres://app@db/jobs'
 * ```
 */
export function redactPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1@')
}
