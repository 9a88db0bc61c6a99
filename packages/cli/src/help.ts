/**
 * The text of `socketserver --help`.
 *
 * @module
 */

import { BUILTIN_SERVICES } from './services/index.js'

/**
 * The help text.
 *
 * @returns Several lines, ending with a newline.
 * @example
 * ```ts
 * process.stdout.write(helpText())
 * ```
 */
export function helpText(): string {
  const services = Object.entries(BUILTIN_SERVICES)
    .map(([name, service]) => `  ${name.padEnd(9)} RFC ${service.rfc}: ${service.summary}`)
    .join('\n')
  return `Usage: socketserver serve <service> [listener]... [option]...
       socketserver jobs add --source URL [--queue Q] [--max-attempts N] [--delay-ms N] [--text] < LINES
       socketserver jobs status --source URL [--queue Q]
       socketserver rpcgen FILE.x... [--out DIR] [--js]

Serves <service> on every listener until SIGINT or SIGTERM, then stops
gracefully: listeners close, Unix socket files are removed, running requests
finish (a second signal ends them at once).

Services:
${services}
  PATH      an ES module whose default export is a handler class
            (BaseRequestHandler subclass) or a function (request) => ...
            Read the request with request.source (or rfile), not with
            for await over request.socket: Node's socket iterator destroys
            the socket when the loop ends and a reply written after it is
            lost (reported as ReplyError ERR_STREAM_DESTROYED); or use
            request.socket.iterator({ destroyOnReturn: false }).
            A named export listening(listeners, signal) runs once every
            listener is bound, before serving (under --processes, once, in
            the supervisor); a function it returns runs after serving stops
            (register with a portmapper, unregister).

Listeners (repeat and mix them; at least one):
  --tcp HOST:PORT         TCP; IPv6 in brackets: [::1]:0; port 0 picks a free port
  --udp HOST:PORT         UDP
  --unix PATH             Unix stream socket
  --unix-dgram PATH       Unix datagram socket
  --tls HOST:PORT         TCP speaking TLS (needs --tls-cert and --tls-key)
  --tls-unix PATH         Unix stream socket speaking TLS
  --listen-fds            every socket the parent passed in (systemd's LISTEN_FDS, as
                          systemd and systemd-socket-activate pass them): TCP, UDP and
                          Unix stream sockets, each served as what it is
  --source URL            the jobs of a table, as requests for a handler module:
                          sqlite:PATH (a file, created if missing; any number of
                          processes may serve it) or postgres://USER@HOST/DATABASE

Options:
  --policy NAME           sequential | pooled | forked (default pooled)
  --concurrency N         pooled: most requests at once (default 1024)
  --max-children N        forked: most child processes at once (default 40)
  --child-concurrency N   forked: requests one child serves at once (default 1)
  --timeout-ms N          longest a request may run (default: no limit)
  --drain-timeout-ms N    on stop, how long running requests may finish (default 30000)
  --max-packet-size N     largest datagram served (default 65507); larger ones are dropped and reported
  --proxy-protocol V      v1 | v2 | any: every --tcp and --unix connection starts with a
                          PROXY header (from HAProxy's send-proxy, say) naming the client
  --trusted-proxy CIDR    a proxy whose header is believed (repeat it; default loopback only);
                          Unix-socket peers are always trusted
  --tls-cert FILE         the certificate (PEM) of every TLS listener; SIGHUP reads it again
  --tls-key FILE          its private key (PEM)
  --tls-ca FILE           the authority (PEM) client certificates must be signed by
  --tls-client-cert MODE  none | request | require (default none; require needs --tls-ca)
  --tls-handshake-timeout-ms N
                          longest a TLS handshake may take (default 10000)
  --processes N           N worker processes (auto: one per CPU) serving every listener,
                          each bound once by a supervisor; SIGHUP replaces the workers one
                          by one (new code, no connection lost), a crashed one is replaced
                          (--unix-dgram datagrams are relayed to the workers by the supervisor)
  -h, --help              this text
  -v, --version           the version

Once every listener is bound, one line per listener is printed on stdout:
  listening tcp 127.0.0.1:40123
  listening unix /tmp/echo.sock
  listening tls 127.0.0.1:40124
  listening source sqlite:jobs.db
With $NOTIFY_SOCKET set (systemd's Type=notify), READY=1 is sent to it then,
and STOPPING=1 when stopping starts.

Exit status: 0 after a graceful stop, 1 when a listener cannot be bound,
2 for a bad command line or handler module.

jobs add reads one job per line (a JSON value; with --text, the line as a
string) and adds them to the table; jobs status prints how many jobs are
pending, running, done and failed (after their last attempt).

rpcgen compiles ONC RPC language files (RFC 5531 section 12) to TypeScript
(or JavaScript with --js) for @socketserver/oncrpc: types, XDR codecs, each
program's definition, implementPROG(code) and VERSION_client(client). It
writes DIR/NAME.ts for each NAME.x (DIR defaults to the current directory).
`
}
