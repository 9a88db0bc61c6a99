/** The `code` of a system error (`EADDRINUSE`, ...), or `fallback` when it has none. */
export function systemCode(error: unknown, fallback: string): string {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : fallback
}
