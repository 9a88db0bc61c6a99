import { DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_POLL_INTERVAL_MS, forked, InvalidOptionError, pooled } from '@socketserver/core'
import { describe, expect, test } from 'vitest'
import { checkHandleRequestOptions, resolveServeOptions } from '../../src/serve-options.js'

describe('resolveServeOptions()', () => {
  test('fills in the documented defaults', () => {
    const resolved = resolveServeOptions({})
    expect(resolved.pollIntervalMs).toBe(DEFAULT_POLL_INTERVAL_MS)
    expect(resolved.drainTimeoutMs).toBe(DEFAULT_DRAIN_TIMEOUT_MS)
    expect(typeof resolved.policy).toBe('function')
  })

  test.each([
    ['timeoutMs', { timeoutMs: -1 }],
    ['timeoutMs', { timeoutMs: 0 }],
    ['timeoutMs', { timeoutMs: Number.NaN }],
    ['drainTimeoutMs', { drainTimeoutMs: Infinity }],
    ['pollIntervalMs', { pollIntervalMs: 0 }],
    ['policy', { policy: 'pooled' }],
    ['verifyRequest', { verifyRequest: true }],
    ['handleError', { handleError: 'stderr' }],
    ['serviceActions', { serviceActions: 1 }],
    ['signal', { signal: { aborted: false } }],
    ['forceSignal', { forceSignal: 'now' }],
  ])('rejects a bad %s with InvalidOptionError naming it', (option, options) => {
    try {
      resolveServeOptions(options as never)
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionError)
      expect((error as InvalidOptionError).option).toBe(option)
      expect((error as InvalidOptionError).code).toBe('SS_ERR_INVALID_OPTION')
    }
  })

  test('rejects a bad waitTimeoutMs and handleTimeout for handleRequest()', () => {
    expect(() => checkHandleRequestOptions({ waitTimeoutMs: -5 })).toThrow(InvalidOptionError)
    expect(() => checkHandleRequestOptions({ handleTimeout: 3 as never })).toThrow(InvalidOptionError)
  })

  test('pooled() rejects a concurrency below 1', () => {
    expect(() => pooled({ concurrency: 0 })).toThrow(InvalidOptionError)
    expect(() => pooled({ concurrency: 1.5 })).toThrow(InvalidOptionError)
  })

  test.each([
    ['maxChildren', { maxChildren: 0 }],
    ['childConcurrency', { childConcurrency: 0 }],
    ['childConcurrency', { childConcurrency: 2.5 }],
    ['prefork', { prefork: -1 }],
    ['maxRequestsPerChild', { maxRequestsPerChild: 0 }],
  ])('forked() rejects a bad %s with InvalidOptionError naming it', (option, options) => {
    expect(() => forked({ module: './handler.js', ...options })).toThrow(expect.objectContaining({ option }))
  })
})
