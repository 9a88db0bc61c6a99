/**
 * The `.x` compiler: the RPC language to a TypeScript (or JavaScript)
 * module of types, XDR codecs, program definitions, a typed server
 * skeleton and a typed client.
 *
 * @module
 */

import { readFile, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { emitModule } from './rpcl-emit.js'
import { parseRpcl } from './rpcl-parser.js'

/** Options of {@link compileRpcl}. */
export interface CompileOptions {
  /** The file's name, for messages and the header. Default `input.x`. */
  readonly fileName?: string
  /** `ts` (default) or `js` (an ES module without types). */
  readonly language?: 'ts' | 'js'
  /** The module the output imports the library from. Default `@socketserver/oncrpc`. */
  readonly importFrom?: string
}

/**
 * Compiles a `.x` file's text. What it makes, for each definition: `const`
 * → an exported number; `enum`, `struct`, `union`, `typedef` → a type
 * (TypeScript only) and an XDR codec of the same name (structs are plain
 * objects; unions `{ tag, value }` typed by their arms; enums their
 * members' names; `T *x` is `T | undefined`; `hyper` a `bigint`); a
 * `program` → its definition for `defineProgram()`, a number constant per
 * version and procedure (as rpcgen's `#define`s), `implementPROG(code)`
 * (the server skeleton: a function per procedure, type-checked) and
 * `VERS_client(client)` (a method per procedure). Like rpcgen: `%` and `#`
 * lines are skipped (the C preprocessor is not run: every `#ifdef` branch
 * is read), `unsigned` alone is `unsigned int`, `char`/`short`/`long` are
 * ints, a procedure may take several arguments (sent one after another),
 * libtirpc's `rpcprog_t`-style types and `struct netbuf` are known. A type
 * used before it is defined, or by itself, is referenced lazily.
 *
 * @param source - The `.x` file's text.
 * @param options - `fileName`, `language`, `importFrom`.
 * @returns The module's text.
 * @throws RpclError for a syntax error, an undefined type or constant, or `quadruple`.
 * @example
 * ```ts
 * const ts = compileRpcl('const MAX = 8; program P { version V { int ECHO(int) = 1; } = 1; } = 0x20000001;', { fileName: 'p.x' })
 * ```
 */
export function compileRpcl(source: string, options: CompileOptions = {}): string {
  const fileName = options.fileName ?? 'input.x'
  return emitModule(parseRpcl(source, fileName), {
    fileName,
    language: options.language ?? 'ts',
    importFrom: options.importFrom ?? '@socketserver/oncrpc',
  })
}

/**
 * Compiles a `.x` file into `outDir`: `name.x` becomes `name.ts` (or
 * `name.js`).
 *
 * @param path - The `.x` file.
 * @param outDir - Where to write.
 * @param options - `language`, `importFrom`.
 * @returns The path written.
 * @throws RpclError for a file that does not compile; the file system's errors.
 */
export async function compileRpclFile(path: string, outDir: string, options: Omit<CompileOptions, 'fileName'> = {}): Promise<string> {
  const fileName = basename(path)
  const output = compileRpcl(await readFile(path, 'utf8'), { ...options, fileName })
  const target = join(outDir, `${fileName.replace(/\.x$/, '')}.${options.language ?? 'ts'}`)
  await writeFile(target, output)
  return target
}
