// The command-line parser every script under scripts/ and bench/ uses. Pure:
// no process is started here (tests/scripts-args.test.ts runs the scripts).
import { describe, expect, test } from 'vitest'
import { type CommandSpec, listOf, oneOf, parseCommandLine, positiveNumber, UsageError, wholeNumber } from '../scripts/lib/args.mjs'

const STRESS_LIKE: CommandSpec = {
  usage: 'Usage: stress [--seconds S] [--cases CASE,...] [--quick] [--runs N]',
  options: {
    seconds: { type: 'string', value: positiveNumber, default: 60 },
    cases: { type: 'string', value: listOf(['tcp:pooled', 'udp:forked'], 'cases'), default: ['tcp:pooled', 'udp:forked'] },
    quick: { type: 'boolean' },
    runs: { type: 'string', value: wholeNumber(1, 10) },
    only: { type: 'string' },
  },
}

const SERVER_LIKE: CommandSpec = {
  usage: 'Usage: server TRANSPORT POLICY [SERVICE]',
  positionals: [
    { name: 'TRANSPORT', value: oneOf(['tcp', 'udp']) },
    { name: 'POLICY', value: oneOf(['sequential', 'pooled', 'forked']) },
    { name: 'SERVICE', value: oneOf(['echo', 'upper']), default: 'echo' },
  ],
  check: ({ positionals: [transport, , service] }) =>
    transport === 'udp' && service === 'upper' ? 'Cannot use SERVICE "upper" on udp: expected echo' : undefined,
}

/** The message parseCommandLine() refuses `argv` with. */
function refusal(command: CommandSpec, argv: string[]): string {
  try {
    parseCommandLine(command, argv)
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return (error as UsageError).message
  }
  throw new Error(`Expected ${JSON.stringify(argv)} to be refused`)
}

describe('parseCommandLine()', () => {
  test('fills in every default when no argument is given', () => {
    expect(parseCommandLine(STRESS_LIKE, [])).toEqual({
      help: false,
      values: { seconds: 60, cases: ['tcp:pooled', 'udp:forked'], quick: false, runs: undefined, only: undefined },
      positionals: [],
    })
  })

  test('reads each declared option, in either --name value or --name=value form', () => {
    const result = parseCommandLine(STRESS_LIKE, [
      '--seconds',
      '0.5',
      '--cases=udp:forked,udp:forked',
      '--quick',
      '--runs=10',
      '--only',
      'UDP x',
    ])
    expect(result).toEqual({
      help: false,
      values: { seconds: 0.5, cases: ['udp:forked', 'udp:forked'], quick: true, runs: 10, only: 'UDP x' },
      positionals: [],
    })
  })

  test('refuses an unknown option, naming it', () => {
    expect(refusal(STRESS_LIKE, ['--duration', '20'])).toBe('Cannot use --duration: unknown option')
    expect(refusal(STRESS_LIKE, ['--seconds', '1', '--duration=20'])).toBe('Cannot use --duration: unknown option')
    expect(refusal(STRESS_LIKE, ['-x'])).toBe('Cannot use -x: unknown option')
  })

  test('refuses an option whose value is missing, at the end or before another option', () => {
    expect(refusal(STRESS_LIKE, ['--seconds'])).toBe('Cannot use --seconds: expected a value (a positive number)')
    expect(refusal(STRESS_LIKE, ['--seconds', '--quick'])).toBe('Cannot use --seconds: expected a value (a positive number)')
    expect(refusal(STRESS_LIKE, ['--cases'])).toBe('Cannot use --cases: expected a value (a comma-separated list of cases)')
    expect(refusal(STRESS_LIKE, ['--only'])).toBe('Cannot use --only: expected a value (some text)')
  })

  test('refuses a bad value, quoting it and saying what was expected', () => {
    expect(refusal(STRESS_LIKE, ['--seconds', 'abc'])).toBe('Cannot use --seconds "abc": expected a positive number')
    expect(refusal(STRESS_LIKE, ['--seconds=0'])).toBe('Cannot use --seconds "0": expected a positive number')
    expect(refusal(STRESS_LIKE, ['--seconds='])).toBe('Cannot use --seconds "": expected a positive number')
    expect(refusal(STRESS_LIKE, ['--runs', '11'])).toBe('Cannot use --runs "11": expected a whole number from 1 to 10')
    expect(refusal(STRESS_LIKE, ['--cases', 'tcp:pooled,tcp:bogus'])).toBe(
      'Cannot use --cases "tcp:pooled,tcp:bogus": expected a comma-separated list of cases ("tcp:bogus" is not one)',
    )
  })

  test('refuses a value given to a switch', () => {
    expect(refusal(STRESS_LIKE, ['--quick=yes'])).toBe('Cannot use --quick "yes": expected no value')
  })

  test('refuses an option given twice instead of taking one of the values', () => {
    expect(refusal(STRESS_LIKE, ['--seconds', '1', '--seconds=2'])).toBe('Cannot use --seconds twice: give it once')
  })

  test('refuses a positional argument when the command takes none', () => {
    expect(refusal(STRESS_LIKE, ['--seconds', '1', '20'])).toBe('Cannot use "20": unexpected argument')
  })

  test('returns help for --help or -h, even beside a mistake', () => {
    expect(parseCommandLine(STRESS_LIKE, ['--help'])).toEqual({ help: true })
    expect(parseCommandLine(STRESS_LIKE, ['--duration', '1', '-h'])).toEqual({ help: true })
    expect(parseCommandLine(SERVER_LIKE, ['tcp', '-h'])).toEqual({ help: true })
  })

  test('drops one leading "--", as `pnpm stress -- --seconds 5` passes it on', () => {
    expect(parseCommandLine(STRESS_LIKE, ['--', '--seconds', '5'])).toMatchObject({ values: { seconds: 5 } })
    expect(refusal(STRESS_LIKE, ['--', '--', '--seconds', '5'])).toBe('Cannot use "--seconds": unexpected argument')
  })

  test('reads positional arguments in order, with the default of an optional one', () => {
    expect(parseCommandLine(SERVER_LIKE, ['tcp', 'forked'])).toEqual({ help: false, values: {}, positionals: ['tcp', 'forked', 'echo'] })
    expect(parseCommandLine(SERVER_LIKE, ['tcp', 'pooled', 'upper'])).toMatchObject({ positionals: ['tcp', 'pooled', 'upper'] })
  })

  test('refuses a wrong count of positional arguments, naming what is missing or extra', () => {
    expect(refusal(SERVER_LIKE, [])).toBe('Cannot run without TRANSPORT: expected TRANSPORT POLICY [SERVICE]')
    expect(refusal(SERVER_LIKE, ['tcp'])).toBe('Cannot run without POLICY: expected TRANSPORT POLICY [SERVICE]')
    expect(refusal(SERVER_LIKE, ['tcp', 'pooled', 'echo', 'more'])).toBe('Cannot use "more": unexpected argument')
  })

  test('refuses an unknown positional value, naming the argument', () => {
    expect(refusal(SERVER_LIKE, ['sctp', 'pooled'])).toBe('Cannot use TRANSPORT "sctp": expected tcp or udp')
    expect(refusal(SERVER_LIKE, ['tcp', 'threaded'])).toBe('Cannot use POLICY "threaded": expected sequential, pooled or forked')
    expect(refusal(SERVER_LIKE, ['--verbose', 'tcp', 'pooled'])).toBe('Cannot use --verbose: unknown option')
  })

  test('refuses what check() refuses, with its message', () => {
    expect(refusal(SERVER_LIKE, ['udp', 'pooled', 'upper'])).toBe('Cannot use SERVICE "upper" on udp: expected echo')
  })
})

describe('value specs', () => {
  test('positiveNumber takes decimal numbers above 0 only', () => {
    for (const [text, value] of [
      ['60', 60],
      ['0.5', 0.5],
      ['.5', 0.5],
      ['2.', 2],
    ] as const)
      expect(positiveNumber.parse(text)).toBe(value)
    for (const text of ['0', '0.0', '-1', 'abc', '', ' 1', '1e3', 'Infinity', '0x10']) expect(positiveNumber.parse(text)).toBeUndefined()
  })

  test('wholeNumber() takes digits within its range only', () => {
    expect(wholeNumber(1).parse('1')).toBe(1)
    expect(wholeNumber(1).parse('0')).toBeUndefined()
    expect(wholeNumber(1).parse('1.5')).toBeUndefined()
    expect(wholeNumber(1).parse('9007199254740993')).toBeUndefined()
    expect(wholeNumber(0, 3).parse('3')).toBe(3)
    expect(wholeNumber(0, 3).parse('4')).toBeUndefined()
    expect(wholeNumber(1).expected).toBe('a whole number of 1 or more')
    expect(wholeNumber(0, 3).expected).toBe('a whole number from 0 to 3')
  })

  test('oneOf() and listOf() take only the names given', () => {
    expect(oneOf(['a', 'b']).parse('b')).toBe('b')
    expect(oneOf(['a', 'b']).parse('c')).toBeUndefined()
    expect(listOf(['a', 'b'], 'letters').parse('b,a,b')).toEqual(['b', 'a', 'b'])
    expect(listOf(['a', 'b'], 'letters').parse('a,')).toBeUndefined()
  })
})
