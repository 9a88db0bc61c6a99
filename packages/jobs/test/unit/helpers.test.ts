import { claimKey, isConnectionError, JobTableError, parseSourceUrl, redactPassword, retryDelayMs } from '@socketserver/jobs'
import { describe, expect, test } from 'vitest'

describe('parseSourceUrl() and redactPassword()', () => {
  test('sqlite: paths (relative, absolute, three slashes, in memory) and postgres URLs', () => {
    expect(parseSourceUrl('sqlite:jobs.db')).toEqual({ engine: 'sqlite', path: 'jobs.db' })
    expect(parseSourceUrl('sqlite:/var/lib/jobs.db')).toEqual({ engine: 'sqlite', path: '/var/lib/jobs.db' })
    expect(parseSourceUrl('sqlite:///var/lib/jobs.db')).toEqual({ engine: 'sqlite', path: '/var/lib/jobs.db' })
    expect(parseSourceUrl('sqlite::memory:')).toEqual({ engine: 'sqlite', path: ':memory:' })
    expect(parseSourceUrl('postgresql://w@db/jobs')).toEqual({ engine: 'postgres', url: 'postgresql://w@db/jobs' })
    expect(() => parseSourceUrl('sqlite:')).toThrow(JobTableError)
    expect(() => parseSourceUrl('mysql://a:secret@db/x')).toThrow('"mysql://a@db/x"')
  })

  test('the password goes, the rest stays', () => {
    expect(redactPassword('postgres://app:s3cret@db:5432/jobs?sslmode=require')).toBe('postgres://app@db:5432/jobs?sslmode=require')
    expect(redactPassword('postgres://app@db/jobs')).toBe('postgres://app@db/jobs')
    expect(redactPassword('sqlite:/tmp/a:b@c.db')).toBe('sqlite:/tmp/a:b@c.db')
  })
})

test('retryDelayMs() doubles from baseMs up to maxMs, less up to a tenth of jitter', () => {
  for (const [attempt, full] of [
    [1, 1_000],
    [2, 2_000],
    [3, 4_000],
    [30, 3_600_000],
  ] as const) {
    const delay = retryDelayMs(attempt)
    expect(delay).toBeLessThanOrEqual(full)
    expect(delay).toBeGreaterThanOrEqual(full * 0.9 - 1)
  }
  expect(retryDelayMs(4, { baseMs: 10, maxMs: 50 })).toBeLessThanOrEqual(50)
  expect(retryDelayMs(1, { baseMs: 0 })).toBe(0)
})

test('claimKey() and isConnectionError()', () => {
  expect(claimKey({ id: '7', token: '2' })).toBe('7#2')
  expect(isConnectionError(Object.assign(new Error('connect ENOENT /tmp/s'), { code: 'ENOENT' }))).toBe(true)
  expect(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true)
  expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true)
  expect(isConnectionError(Object.assign(new Error('relation "x" does not exist'), { code: '42P01' }))).toBe(false)
})
