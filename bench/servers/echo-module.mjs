// The echo handler as a module, for the forked policy.
export default (request) => (request.kind === 'datagram' ? request.reply(request.data) : request.sink(request.source))
