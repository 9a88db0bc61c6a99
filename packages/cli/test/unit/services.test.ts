import { chargenBytes, chargenLine, daytimeLine, timeBytes } from '@socketserver/cli'
import { describe, expect, test } from 'vitest'

describe('RFC 864 chargen', () => {
  test('line n is 72 printable characters starting at offset n mod 95, then CR LF', () => {
    const first = chargenLine(0)
    expect(first).toHaveLength(74)
    expect(first.startsWith(' !"#$%&\'()*+,-./0123456789')).toBe(true)
    expect(first.endsWith('\r\n')).toBe(true)
    expect(chargenLine(1).startsWith('!"#')).toBe(true)
    expect(chargenLine(94).slice(0, 2)).toBe('~ ')
    expect(chargenLine(95)).toBe(first)
  })

  test('the datagram form is the pattern cut at the requested length', () => {
    expect(chargenBytes(0).length).toBe(0)
    expect(chargenBytes(512).length).toBe(512)
    expect(chargenBytes(80).toString()).toBe((chargenLine(0) + chargenLine(1)).slice(0, 80))
  })
})

describe('RFC 868 time', () => {
  test('encodes seconds since 1900 as 4 big-endian bytes', () => {
    expect(timeBytes(new Date(0))).toEqual(Buffer.from([0x83, 0xaa, 0x7e, 0x80]))
    expect(timeBytes(new Date('2026-01-01T00:00:00Z')).readUInt32BE()).toBe(2_208_988_800 + 1_767_225_600)
  })

  test('wraps modulo 2^32 on both sides: after 2036-02-07T06:28:15Z, and before 1900', () => {
    expect(timeBytes(new Date('2036-02-07T06:28:15Z')).readUInt32BE()).toBe(2 ** 32 - 1)
    expect(timeBytes(new Date('2036-02-07T06:28:16Z')).readUInt32BE()).toBe(0)
    expect(timeBytes(new Date('1899-12-31T23:59:59Z')).readUInt32BE()).toBe(2 ** 32 - 1)
  })
})

describe('RFC 867 daytime', () => {
  test('is a readable UTC date line ending in CR LF', () => {
    expect(daytimeLine(new Date(0))).toBe('Thursday, January 1, 1970 00:00:00-UTC\r\n')
  })

  test('keeps the time of day whole for a year with five digits', () => {
    expect(daytimeLine(new Date(Date.UTC(10_000, 0, 1, 12, 34, 56)))).toMatch(/ 12:34:56-UTC\r\n$/)
  })
})
