import { parseArgs, UsageError } from '@socketserver/cli'
import { describe, expect, test } from 'vitest'

describe('parseArgs()', () => {
  test('parses repeated and mixed listeners, IPv6 in brackets, and options', () => {
    expect(
      parseArgs([
        'serve',
        'echo',
        '--tcp',
        '127.0.0.1:0',
        '--tcp=[::1]:7',
        '--unix',
        '/tmp/s.sock',
        '--udp',
        '0.0.0.0:9',
        '--unix-dgram',
        '/tmp/d.sock',
        '--policy',
        'pooled',
        '--concurrency',
        '8',
        '--timeout-ms',
        '500',
        '--drain-timeout-ms',
        '0',
        '--max-packet-size',
        '512',
      ]),
    ).toEqual({
      command: 'serve',
      service: 'echo',
      listeners: [
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '::1', port: 7 },
        { transport: 'unix', path: '/tmp/s.sock' },
        { transport: 'udp', host: '0.0.0.0', port: 9 },
        { transport: 'unix-dgram', path: '/tmp/d.sock' },
      ],
      policy: 'pooled',
      concurrency: 8,
      maxChildren: undefined,
      childConcurrency: undefined,
      timeoutMs: 500,
      drainTimeoutMs: 0,
      maxPacketSize: 512,
      listenFds: false,
      sources: [],
    })
  })

  test('--source, repeated, with or without listeners; a builtin or an unknown scheme is refused', () => {
    expect(parseArgs(['serve', 'h.mjs', '--source', 'sqlite:jobs.db', '--source', 'postgres://w@db/jobs'])).toMatchObject({
      listeners: [],
      sources: ['sqlite:jobs.db', 'postgres://w@db/jobs'],
    })
    expect(parseArgs(['serve', 'h.mjs', '--tcp', '127.0.0.1:0', '--source', 'sqlite:j.db'])).toMatchObject({ sources: ['sqlite:j.db'] })
    expect(() => parseArgs(['serve', 'echo', '--source', 'sqlite:j.db'])).toThrow(/builtin echo/)
    expect(() => parseArgs(['serve', 'h.mjs', '--source', 'redis://x'])).toThrow(
      /--source: "redis:\/\/x": expected sqlite:PATH or postgres:/,
    )
  })

  test('jobs add and jobs status', () => {
    expect(
      parseArgs(['jobs', 'add', '--source', 'sqlite:j.db', '--queue', 'mail', '--max-attempts', '3', '--delay-ms', '0', '--text']),
    ).toEqual({
      command: 'jobs',
      action: 'add',
      source: 'sqlite:j.db',
      queue: 'mail',
      maxAttempts: 3,
      delayMs: 0,
      text: true,
    })
    expect(parseArgs(['jobs', 'status', '--source', 'sqlite:j.db'])).toMatchObject({ command: 'jobs', action: 'status' })
    expect(() => parseArgs(['jobs', 'status', '--source', 'sqlite:j.db', '--text'])).toThrow(/Cannot use "--text" with jobs status/)
    expect(() => parseArgs(['jobs', 'add', '--source', 'sqlite:j.db', '--max-attempts', '0'])).toThrow(/of 1 or more/)
    expect(() => parseArgs(['jobs', 'add', '--source'])).toThrow(/needs a value/)
  })

  test('--tls, --tls-unix and the TLS settings', () => {
    expect(
      parseArgs([
        'serve',
        'echo',
        '--tls',
        '[::1]:0',
        '--tls-unix',
        's.sock',
        '--tls-cert',
        'c.pem',
        '--tls-key',
        'k.pem',
        '--tls-ca',
        'ca.pem',
        '--tls-client-cert',
        'require',
        '--tls-handshake-timeout-ms',
        '5000',
      ]),
    ).toMatchObject({
      listeners: [
        { transport: 'tls', host: '::1', port: 0 },
        { transport: 'tls-unix', path: 's.sock' },
      ],
      tlsCert: 'c.pem',
      tlsKey: 'k.pem',
      tlsCa: 'ca.pem',
      tlsClientCertificate: 'require',
      tlsHandshakeTimeoutMs: 5000,
    })
  })

  test('--proxy-protocol and repeated --trusted-proxy', () => {
    expect(
      parseArgs([
        'serve',
        'echo',
        '--tcp',
        '127.0.0.1:0',
        '--proxy-protocol',
        'v2',
        '--trusted-proxy',
        '10.0.0.0/8',
        '--trusted-proxy',
        '::1',
      ]),
    ).toMatchObject({ proxyProtocol: 'v2', trustedProxies: ['10.0.0.0/8', '::1'] })
    expect(parseArgs(['serve', 'echo', '--unix', 's.sock', '--proxy-protocol=any'])).toMatchObject({
      proxyProtocol: 'any',
      trustedProxies: undefined,
    })
  })

  test('defaults to the pooled policy and accepts forked with --max-children', () => {
    expect(parseArgs(['serve', './h.mjs', '--unix', 'x.sock'])).toMatchObject({ policy: 'pooled', service: './h.mjs' })
    expect(
      parseArgs(['serve', 'echo', '--tcp', 'localhost:0', '--policy', 'forked', '--max-children', '2', '--child-concurrency', '8']),
    ).toMatchObject({
      childConcurrency: 8,
      policy: 'forked',
      maxChildren: 2,
    })
  })

  test('recognises --help, -h and --version', () => {
    expect(parseArgs(['--help'])).toEqual({ command: 'help' })
    expect(parseArgs(['serve', 'echo', '-h'])).toEqual({ command: 'help' })
    expect(parseArgs(['--version'])).toEqual({ command: 'version' })
  })

  test.each([
    [[]],
    [['run', 'echo']],
    [['serve']],
    [['serve', 'echo']],
    [['serve', 'echo', 'discard', '--tcp', '127.0.0.1:0']],
    [['serve', 'echo', '--tcp', 'localhost']],
    [['serve', 'echo', '--tcp', '::1:80']],
    [['serve', 'echo', '--tcp', '127.0.0.1:99999']],
    [['serve', 'echo', '--tcp']],
    [['serve', 'echo', '--unix', '']],
    [['serve', 'echo', '--tcp', '127.0.0.1:0', '--bogus', '1']],
    [['serve', 'echo', '--tcp', '127.0.0.1:0', '--policy', 'threads']],
    [['serve', 'echo', '--tcp', '127.0.0.1:0', '--concurrency', '0']],
    [['serve', 'echo', '--tcp', '127.0.0.1:0', '--timeout-ms', '1.5']],
    [['serve', 'echo', '--tcp', '127.0.0.1:0', '--policy', 'sequential', '--concurrency', '4']],
    [['serve', 'echo', '--tcp', '127.0.0.1:0', '--max-children', '4']],
    [['serve', 'echo', '--tcp', '127.0.0.1:0', '--child-concurrency', '4']],
    [['serve', 'echo', '--tcp', '127.0.0.1:0', '--policy', 'pooled', '--policy', 'sequential']],
    [['serve', 'echo', '--tcp', '127.0.0.1:0', '--timeout-ms', '2147483648']],
    [['serve', 'echo', '--tcp', '127.0.0.1:0', '--drain-timeout-ms=99999999999']],
  ])('rejects %j with UsageError', (argv) => {
    expect(() => parseArgs(argv)).toThrow(UsageError)
  })

  test('names the problem: a flag given twice, a value missing before the next flag, a delay past the timer limit', () => {
    const tcp = ['serve', 'echo', '--tcp', '127.0.0.1:0']
    expect(() => parseArgs([...tcp, '--concurrency', '2', '--concurrency=3'])).toThrow('Cannot use --concurrency twice')
    expect(() => parseArgs(['serve', 'echo', '--tcp', '--policy', 'pooled'])).toThrow('Cannot use --tcp: it needs a value')
    expect(() => parseArgs([...tcp, '--timeout-ms', '2147483648'])).toThrow('expected a whole number from 1 to 2147483647')
    expect(parseArgs([...tcp, '--timeout-ms', '2147483647'])).toMatchObject({ timeoutMs: 2_147_483_647 })
  })
})

describe('parseArgs() for rpcgen', () => {
  test('takes files, --out and --js', () => {
    expect(parseArgs(['rpcgen', 'a.x', 'b.x', '--out', 'gen', '--js'])).toEqual({
      command: 'rpcgen',
      files: ['a.x', 'b.x'],
      outDir: 'gen',
      language: 'js',
    })
    expect(parseArgs(['rpcgen', 'a.x'])).toEqual({ command: 'rpcgen', files: ['a.x'], outDir: '.', language: 'ts' })
  })

  test('refuses an unknown option, a missing directory, no file', () => {
    expect(() => parseArgs(['rpcgen', 'a.x', '--lang', 'ts'])).toThrow(UsageError)
    expect(() => parseArgs(['rpcgen', 'a.x', '--out'])).toThrow(/--out DIR/)
    expect(() => parseArgs(['rpcgen', '--js'])).toThrow(/without a .x file/)
  })
})
