// Types for args.mjs, the command-line parser of the scripts under scripts/
// and bench/ (plain JavaScript, so that Node 20 runs them without a build).
// The tests import it from TypeScript.

/** How to read one string value. */
export interface ValueSpec<T> {
  /**
   * What a good value is, for messages: "a positive number". As a function it
   * is given the bad value (undefined when the value is missing).
   */
  expected: string | ((text: string | undefined) => string)
  /** The value, or undefined when `text` is not one. */
  parse(text: string): T | undefined
}

export interface OptionSpec {
  /** A boolean option is a switch and takes no value. */
  type: 'boolean' | 'string'
  /** How to read a string option's value; without it, any text is taken as it is. */
  value?: ValueSpec<unknown>
  /** Its value when not given (false for a boolean, else undefined). */
  default?: unknown
}

export interface PositionalSpec {
  /** The name the usage gives it, such as "TRANSPORT". */
  name: string
  value: ValueSpec<unknown>
  /** When present, the argument may be left out. */
  default?: unknown
}

export interface ParsedCommandLine {
  /** Every declared option by name, given or defaulted. */
  // biome-ignore lint/suspicious/noExplicitAny: each script knows its own options' types.
  values: Record<string, any>
  /** Every declared positional argument in order, given or defaulted. */
  // biome-ignore lint/suspicious/noExplicitAny: as for values.
  positionals: any[]
}

export interface CommandSpec {
  /** Printed after an error (stderr) and for --help (stdout). */
  usage: string
  /** By long name, without the dashes. --help and -h are always there. */
  options?: Record<string, OptionSpec>
  /** In order; those with a default come last. */
  positionals?: PositionalSpec[]
  /** Refuses a combination the script cannot run by returning the message (`Cannot use ...: ...`). */
  check?(parsed: ParsedCommandLine): string | undefined
}

/** The arguments cannot be run; the message names the flag or value and what was expected. */
export class UsageError extends Error {}

/** A number above 0, written in decimal: "60", "0.5". */
export const positiveNumber: ValueSpec<number>
/** A whole number from `minimum` to `maximum` (no limit by default). */
export function wholeNumber(minimum: number, maximum?: number): ValueSpec<number>
/** One of `names`. */
export function oneOf(names: readonly string[]): ValueSpec<string>
/** A comma-separated list, each item one of `names`; `noun` says what they are in messages ("cases"). */
export function listOf(names: readonly string[], noun: string): ValueSpec<string[]>

/**
 * Reads a command line against its spec. Pure: prints nothing, never exits.
 * A leading "--" (what `pnpm stress -- --seconds 5` passes on) is dropped.
 *
 * @throws UsageError for an unknown option, a missing or bad value, an option
 *   given twice, a missing or unexpected positional argument, or what `check` refuses.
 */
export function parseCommandLine(command: CommandSpec, argv: readonly string[]): { help: true } | ({ help: false } & ParsedCommandLine)

/**
 * {@link parseCommandLine} for a script: on a mistake prints the message and
 * the usage on stderr and exits 2; on --help prints the usage and exits 0.
 */
export function readCommandLine(command: CommandSpec, argv?: readonly string[]): ParsedCommandLine
