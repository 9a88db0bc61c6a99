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

export {
  type Command,
  type JobsCommand,
  type ListenerSpec,
  type PolicyName,
  parseArgs,
  type RpcgenCommand,
  type ServeCommand,
} from './args.js'
export { UsageError } from './errors.js'
export { helpText } from './help.js'
export { type ListeningHook, type LoadedHandler, loadHandler } from './load-handler.js'
export { type CommandIO, main } from './main.js'
export { chargenBytes, chargenLine } from './services/chargen.js'
export { daytimeLine } from './services/daytime.js'
export { BUILTIN_SERVICES, type BuiltinService } from './services/index.js'
export { timeBytes } from './services/time.js'
