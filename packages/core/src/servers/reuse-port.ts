/**
 * Whether Node itself can set SO_REUSEPORT: `net.Server.listen({ reusePort })`
 * and `dgram.createSocket({ reusePort })` exist from Node 22.12 and 23.1.
 *
 * @internal
 */
export function hasNativeReusePort(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number)
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12)
}
