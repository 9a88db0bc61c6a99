// instanceof across two installed copies of @socketserver/core: the second
// copy is the built package copied to another directory, which gives it
// classes of its own, as a handler module with its own node_modules has.
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { registerCleanup } from '@socketserver/testing'
import { expect, test } from 'vitest'

const coreDir = fileURLToPath(new URL('../..', import.meta.url))

/** A second copy of the built package, under node_modules so that its own imports resolve. */
async function secondCopy(): Promise<string> {
  const cache = join(coreDir, 'node_modules', '.cache')
  await mkdir(cache, { recursive: true })
  const dir = await mkdtemp(join(cache, 'second-copy-'))
  registerCleanup(() => rm(dir, { recursive: true, force: true }))
  await cp(join(coreDir, 'dist'), join(dir, 'dist'), { recursive: true })
  await cp(join(coreDir, 'package.json'), join(dir, 'package.json'))
  return pathToFileURL(join(dir, 'dist', 'index.js')).href
}

const scriptFor = (second: string): string => `
const one = await import(${JSON.stringify(pathToFileURL(join(coreDir, 'dist', 'index.js')).href)})
const two = await import(${JSON.stringify(second)})
const client = { transport: 'tcp', host: '127.0.0.1', port: 1, family: 'IPv4' }
const foreign = new two.HandlerError(client, new Error('boom'))
class Mine extends one.SocketServerError {}
console.log(JSON.stringify({
  distinctClasses: one.HandlerError !== two.HandlerError,
  sameClass: foreign instanceof one.HandlerError,
  base: foreign instanceof one.SocketServerError,
  error: foreign instanceof Error,
  otherClass: foreign instanceof one.ReplyError,
  subclassOfOther: new two.ServerNotReadyError('x') instanceof one.ServerClosedError,
  notTheSubclass: new two.ServerClosedError('x') instanceof one.ServerNotReadyError,
  plainError: new Error('x') instanceof one.SocketServerError,
  nonObjects: [null, undefined, 'HandlerError', 1].some((value) => value instanceof one.SocketServerError),
  userSubclass: new Mine('m', 'X') instanceof Mine && new Mine('m', 'X') instanceof one.SocketServerError && !(new one.HandlerError(client, 1) instanceof Mine),
}))
`

test('an error of a second copy of the package is instanceof the same class of the first, and of no other', async () => {
  const script = scriptFor(await secondCopy())
  const output = await new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd: fileURLToPath(new URL('.', import.meta.url)) },
      (error, stdout, stderr) => (error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`))),
    ),
  )
  expect(JSON.parse(output)).toEqual({
    distinctClasses: true,
    sameClass: true,
    base: true,
    error: true,
    otherClass: false,
    subclassOfOther: true,
    notTheSubclass: false,
    plainError: false,
    nonObjects: false,
    userSubclass: true,
  })
})
