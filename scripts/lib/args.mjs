// The command line of every script under scripts/ and bench/: each declares
// its options, positional arguments and usage text, and anything else is
// refused at once, before the script compiles or starts anything. A typo
// such as `pnpm stress --duration 20` must not quietly run the 12-minute
// default.
//
//   const { values, positionals } = readCommandLine({
//     usage: 'Usage: node scripts/stress.mjs [--seconds S]',
//     options: { seconds: { type: 'string', value: positiveNumber, default: 60 } },
//   })
//
// Wrong arguments print one line naming the flag or value and what was
// expected, then the usage, on stderr, and exit 2. --help and -h print the
// usage on stdout and exit 0.
import { parseArgs } from 'node:util'

/** The arguments cannot be run; the message names the flag or value and what was expected. */
export class UsageError extends Error {
  name = 'UsageError'
}

// The types (ValueSpec, OptionSpec, PositionalSpec, CommandSpec,
// ParsedCommandLine) are declared once, in args.d.mts.
/** @typedef {import('./args.d.mts').ValueSpec<unknown>} ValueSpec */
/** @typedef {import('./args.d.mts').OptionSpec} OptionSpec */
/** @typedef {import('./args.d.mts').PositionalSpec} PositionalSpec */
/** @typedef {import('./args.d.mts').CommandSpec} CommandSpec */
/** @typedef {import('./args.d.mts').ParsedCommandLine} ParsedCommandLine */

/** A number above 0, such as "60" or "0.5". */
export const positiveNumber = {
  expected: 'a positive number',
  parse: (text) => (/^(\d+\.?\d*|\.\d+)$/.test(text) && Number(text) > 0 ? Number(text) : undefined),
}

/**
 * A whole number in a range.
 * @param {number} minimum
 * @param {number} [maximum]
 * @returns {import('./args.d.mts').ValueSpec<number>}
 */
export function wholeNumber(minimum, maximum = Number.MAX_SAFE_INTEGER) {
  return {
    expected: `a whole number ${maximum === Number.MAX_SAFE_INTEGER ? `of ${minimum} or more` : `from ${minimum} to ${maximum}`}`,
    parse: (text) => {
      const number = Number(text)
      return /^\d+$/.test(text) && number >= minimum && number <= maximum ? number : undefined
    },
  }
}

/**
 * One of a list of names.
 * @param {readonly string[]} names
 * @returns {import('./args.d.mts').ValueSpec<string>}
 */
export function oneOf(names) {
  return { expected: list(names, 'or'), parse: (text) => (names.includes(text) ? text : undefined) }
}

/**
 * A comma-separated list of names, each one of `names` (repeats allowed).
 * @param {readonly string[]} names
 * @param {string} noun What the names are, for messages: "cases" (the usage lists them).
 * @returns {import('./args.d.mts').ValueSpec<string[]>}
 */
export function listOf(names, noun) {
  return {
    expected: (text) => {
      const unknown = text?.split(',').find((item) => !names.includes(item))
      return `a comma-separated list of ${noun}${unknown === undefined ? '' : ` (${JSON.stringify(unknown)} is not one)`}`
    },
    parse: (text) => {
      const items = text.split(',')
      return items.every((item) => names.includes(item)) ? items : undefined
    },
  }
}

/** @param {readonly string[]} names @param {string} last */
function list(names, last) {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} ${last} ${names.at(-1)}`
}

/**
 * Reads a command line against its spec. Pure: it prints nothing and never exits.
 *
 * A leading "--" is dropped: it is what `pnpm stress -- --seconds 5` passes on
 * (the npm habit), and no script here takes an argument that starts with a dash.
 *
 * @param {CommandSpec} command
 * @param {readonly string[]} argv The arguments after the script's path.
 * @returns {{ help: true } | ({ help: false } & ParsedCommandLine)}
 * @throws {UsageError} For an unknown option, a missing or bad value, an option
 *   given twice, a missing or unexpected positional argument, or what `check` refuses.
 */
export function parseCommandLine(command, argv) {
  const args = argv[0] === '--' ? argv.slice(1) : [...argv]
  const declared = command.positionals ?? []
  /** @type {Record<string, { type: 'boolean' | 'string', short?: string }>} */
  const options = { help: { type: 'boolean', short: 'h' } }
  for (const [name, spec] of Object.entries(command.options ?? {})) options[name] = { type: spec.type }
  const config = { args, options, tokens: true }

  // Asking for help wins over any mistake beside it.
  const loose = parseArgs({ ...config, strict: false, allowPositionals: true }).tokens
  if (loose.some((token) => token.kind === 'option' && token.name === 'help')) return { help: true }

  let strict
  try {
    strict = parseArgs({ ...config, strict: true, allowPositionals: declared.length > 0 })
  } catch (error) {
    if (!String(error?.code).startsWith('ERR_PARSE_ARGS_')) throw error
    // parseArgs's messages are its own; say the same in ours, naming the flag.
    throw new UsageError(explain(loose, command) ?? `Cannot use these arguments: ${error.message.split('\n')[0]}`)
  }

  /** @type {Record<string, any>} */
  const values = {}
  for (const [name, spec] of Object.entries(command.options ?? {}))
    values[name] = spec.default ?? (spec.type === 'boolean' ? false : undefined)
  const seen = new Set()
  for (const token of strict.tokens) {
    if (token.kind !== 'option') continue
    if (seen.has(token.name)) throw new UsageError(`Cannot use ${token.rawName} twice: give it once`)
    seen.add(token.name)
    const spec = /** @type {OptionSpec} */ (command.options?.[token.name])
    values[token.name] = spec.type === 'boolean' ? true : read(token.rawName, /** @type {string} */ (token.value), spec.value)
  }

  const given = strict.positionals
  const required = declared.filter((spec) => !('default' in spec)).length
  if (given.length < required) throw new UsageError(`Cannot run without ${declared[given.length]?.name}: expected ${synopsis(declared)}`)
  if (given.length > declared.length) throw new UsageError(`Cannot use ${JSON.stringify(given[declared.length])}: unexpected argument`)
  const positionals = declared.map((spec, index) => (index < given.length ? read(spec.name, given[index], spec.value) : spec.default))

  const refusal = command.check?.({ values, positionals })
  if (refusal !== undefined) throw new UsageError(refusal)
  return { help: false, values, positionals }
}

/**
 * {@link parseCommandLine} for a script: on a mistake prints the message and the
 * usage on stderr and exits 2; on --help prints the usage on stdout and exits 0.
 * @param {CommandSpec} command
 * @param {readonly string[]} [argv]
 * @returns {ParsedCommandLine}
 */
export function readCommandLine(command, argv = process.argv.slice(2)) {
  let result
  try {
    result = parseCommandLine(command, argv)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    // Writes to a pipe or terminal are synchronous on Linux, so exiting at
    // once loses nothing.
    process.stderr.write(`${error.message}\n${command.usage}\n`)
    process.exit(2)
  }
  if (result.help) {
    process.stdout.write(`${command.usage}\n`)
    process.exit(0)
  }
  return { values: result.values, positionals: result.positionals }
}

/**
 * The first mistake in a loosely parsed command line, in our words.
 * @param {ReturnType<typeof parseArgs>['tokens']} tokens
 * @param {CommandSpec} command
 * @returns {string | undefined}
 */
function explain(tokens, command) {
  for (const token of tokens ?? []) {
    if (token.kind === 'positional') {
      if ((command.positionals ?? []).length === 0) return `Cannot use ${JSON.stringify(token.value)}: unexpected argument`
      continue
    }
    if (token.kind !== 'option') continue
    const spec = command.options?.[token.name]
    if (spec === undefined) return `Cannot use ${token.rawName}: unknown option`
    if (spec.type === 'boolean' && token.value !== undefined)
      return `Cannot use ${token.rawName} ${JSON.stringify(token.value)}: expected no value`
    // "--seconds --quick": parseArgs takes "--quick" for the value, then
    // refuses it as ambiguous; the value is missing.
    if (spec.type === 'string' && (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))))
      return `Cannot use ${token.rawName}: expected a value (${spec.value === undefined ? 'some text' : expected(spec.value, undefined)})`
  }
  return undefined
}

/**
 * @param {string} label The flag or positional name, for the message.
 * @param {string} text
 * @param {ValueSpec | undefined} spec
 */
function read(label, text, spec) {
  if (spec === undefined) return text
  const value = spec.parse(text)
  if (value === undefined) throw new UsageError(`Cannot use ${label} ${JSON.stringify(text)}: expected ${expected(spec, text)}`)
  return value
}

/** @param {ValueSpec} spec @param {string | undefined} text */
function expected(spec, text) {
  return typeof spec.expected === 'function' ? spec.expected(text) : spec.expected
}

/** "TRANSPORT POLICY [SERVICE]" @param {PositionalSpec[]} declared */
function synopsis(declared) {
  return declared.map((spec) => ('default' in spec ? `[${spec.name}]` : spec.name)).join(' ')
}
