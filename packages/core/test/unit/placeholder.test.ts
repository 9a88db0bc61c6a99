import { expect, test } from 'vitest'
import { placeholder } from '@socketserver/core'
test('workspace resolves @socketserver/core from source', () => {
  expect(placeholder).toBe(1)
})
