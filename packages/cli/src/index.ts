/**
 * The `socketserver` command: RFC 862-868 services and your own handler
 * modules over TCP, UDP and Unix sockets. Run it as
 * `socketserver serve echo --tcp 127.0.0.1:7007`, or call {@link main}.
 *
 * @example
 * ```ts
 * import { main } from '@socketserver/cli'
 * process.exitCode = await main(['serve', 'daytime', '--tcp', '127.0.0.1:0'])
 * ```
 *
 * @packageDocumentation
 */

export { main, type CommandIO } from './main.js'
export { parseArgs, type Command, type ServeCommand, type ListenerSpec, type PolicyName } from './args.js'
export { UsageError } from './errors.js'
export { helpText } from './help.js'
export { loadHandler, type LoadedHandler } from './load-handler.js'
export { BUILTIN_SERVICES, type BuiltinService } from './services/index.js'
export { chargenLine, chargenBytes } from './services/chargen.js'
export { daytimeLine } from './services/daytime.js'
export { timeBytes } from './services/time.js'
