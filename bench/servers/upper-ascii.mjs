// The length-prefixed cases' work, shared by raw Node and ours so that both
// do the same per byte: copy a frame's payload upper-cased, ASCII letters
// only. Not String#toUpperCase: it maps some Latin-1 bytes outside Latin-1
// ("ÿ") or to two letters ("ß" to "SS"), which would break the frame's length.

/**
 * Copies `source[start, end)` into `target` at `at`, a to z made A to Z.
 * @param {Uint8Array} source
 * @param {number} start
 * @param {number} end
 * @param {Uint8Array} target
 * @param {number} at
 * @returns {number} Where the copy ends in `target`.
 */
export function upperAscii(source, start, end, target, at) {
  for (let i = start; i < end; i++) {
    const byte = source[i]
    target[at++] = byte >= 97 && byte <= 122 ? byte - 32 : byte
  }
  return at
}
