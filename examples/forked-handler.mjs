// The handler module that forked.mjs runs in child processes.
export default async function handler(request) {
  const { value } = await request.source.next()
  request.socket.write(
    `${Buffer.from(value ?? [])
      .toString()
      .toUpperCase()} (from a child process)\n`,
  )
}
