/**
 * The error of the `.x` compiler.
 *
 * @module
 */

import { SocketServerError } from '@socketserver/core'

/**
 * A `.x` file the compiler cannot read: a syntax error, a type or constant
 * not defined, a type the RPC language has and TypeScript cannot carry
 * (`quadruple`). Names the file, line and column.
 *
 * @example
 * ```ts
 * try { compileRpcl('struct x { int; };', { fileName: 'x.x' }) } catch (err) {
 *   if (err instanceof RpclError) console.error(err.message) // "x.x:1:15: expected a name, found ;"
 * }
 * ```
 */
export class RpclError extends SocketServerError {
  /** The file. */
  readonly fileName: string
  /** Where, 1-based. */
  readonly line: number
  readonly column: number

  /**
   * @param why - What is wrong.
   * @param fileName - The file.
   * @param line - Its line.
   * @param column - Its column.
   */
  constructor(why: string, fileName: string, line: number, column: number) {
    super(`${fileName}:${line}:${column}: ${why}`, 'SS_ERR_RPCL')
    this.fileName = fileName
    this.line = line
    this.column = column
  }
}
