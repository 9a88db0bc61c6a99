import { isHandlerClass } from '@socketserver/core'
import { expect, test } from 'vitest'

test('isHandlerClass() (deprecated) tells a class with run() from a plain function', () => {
  class Handler {
    async run(): Promise<void> {}
  }
  expect(isHandlerClass(Handler)).toBe(true)
  expect(isHandlerClass(() => undefined)).toBe(false)
  expect(isHandlerClass(async () => undefined)).toBe(false)
})
