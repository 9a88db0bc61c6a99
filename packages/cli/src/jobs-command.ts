/**
 * `socketserver jobs add --source URL < lines` and `socketserver jobs
 * status --source URL`.
 *
 * @module
 */

import { createInterface } from 'node:readline'
import { formatAddress } from '@socketserver/core'
import { JobTable, type NewJob } from '@socketserver/jobs'
import type { JobsCommand } from './args.js'
import { describeFailure } from './errors.js'

/** Where the command reads lines and writes its report. */
export interface JobsIO {
  readonly stdin: NodeJS.ReadableStream
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
}

/** How many lines go into one transaction. */
const BATCH = 1_000

/**
 * Runs a `jobs` command: `add` reads one job per line from stdin (a JSON
 * value, or with `--text` the line itself) and adds them in transactions
 * of 1,000; `status` prints the count of each state.
 *
 * @returns The exit code: 0, 1 when the table cannot be used, 2 for a line that is not JSON (nothing after it is added).
 */
export async function jobsCommand(command: JobsCommand, io: JobsIO): Promise<number> {
  let table: JobTable
  try {
    table = await JobTable.open({ url: command.source, ...(command.queue === undefined ? {} : { queue: command.queue }) })
  } catch (error) {
    io.stderr.write(`socketserver: ${describeFailure(error)}\n`)
    return 1
  }
  try {
    if (command.action === 'status') {
      const counts = await table.counts()
      io.stdout.write(`source ${formatAddress(table.address)} queue ${command.queue ?? 'default'}\n`)
      for (const [state, count] of Object.entries(counts)) io.stdout.write(`${state} ${count}\n`)
      return 0
    }
    return await addLines(table, command, io)
  } catch (error) {
    io.stderr.write(`socketserver: ${describeFailure(error)}\n`)
    return 1
  } finally {
    await table.close()
  }
}

async function addLines(table: JobTable, command: JobsCommand, io: JobsIO): Promise<number> {
  const options = {
    ...(command.maxAttempts === undefined ? {} : { maxAttempts: command.maxAttempts }),
    ...(command.delayMs === undefined ? {} : { delayMs: command.delayMs }),
  }
  let batch: NewJob[] = []
  let added = 0
  let lineNumber = 0
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return
    await table.enqueueMany(batch)
    added += batch.length
    batch = []
  }
  for await (const line of createInterface({ input: io.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
    lineNumber++
    if (line.trim() === '') continue
    let data: unknown = line
    if (!command.text) {
      try {
        data = JSON.parse(line)
      } catch (error) {
        await flush()
        io.stdout.write(`added ${added} jobs\n`)
        io.stderr.write(
          `socketserver: Cannot add line ${lineNumber}: it is not JSON (${(error as Error).message}); use --text for lines of text\n`,
        )
        return 2
      }
    }
    batch.push({ data, ...options })
    if (batch.length === BATCH) await flush()
  }
  await flush()
  io.stdout.write(`added ${added} jobs\n`)
  return 0
}
