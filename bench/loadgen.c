// A small epoll load generator for `pnpm bench`. One thread, non-blocking
// sockets, so it stays far from saturating its own CPU while the server
// under test saturates its own.
//
//   loadgen pingpong|connrate TRANSPORT TARGET CONNS SIZE SECONDS [IDLE]
//   loadgen pipeline|burst tcp|unix TARGET CONNS SIZE SECONDS DEPTH PROTOCOL
//   TRANSPORT tcp | unix | udp | unixdgram
//   TARGET    HOST:PORT (IPv4) or a socket path
//   PROTOCOL  line | lp
//
// pingpong: CONNS clients each send SIZE bytes and wait for SIZE bytes back,
// over and over. connrate: CONNS clients each connect, send SIZE bytes, read
// SIZE bytes back, close. IDLE extra connections are opened first and kept
// silent. With LOADGEN_PROXY_V2 set (connrate over tcp only), every
// connection starts with a PROXY protocol v2 header (28 bytes, a made-up
// IPv4 client) in the same send as its SIZE bytes, as a load balancer
// would send it; the reply expected is still SIZE bytes. With LOADGEN_TLS
// set (pingpong and connrate over tcp, built with -DWITH_TLS), every
// connection is a TLS client (no certificate check): in connrate, each
// request is a full handshake, timed from the connect; LOADGEN_TLS=resume
// makes each client resume the session of its last connection (the ticket
// it was given), and the output counts the handshakes that resumed. With
// LOADGEN_RPC=PROG.VERS.PROC (pingpong over tcp or udp), every request is an
// ONC RPC call of that procedure (record-marked over tcp, AUTH_NONE) with a
// new xid, its argument SIZE bytes as a variable-length opaque (no argument
// when SIZE is 0), and the reply awaited is a SUCCESS carrying the same
// opaque back (nothing when SIZE is 0): NULL calls and an echo procedure.
//
// pipeline: CONNS connections each keep DEPTH requests in flight: DEPTH at
// once when it connects, then one more for each complete reply (all the
// requests that one read's replies call for leave in one send). Every reply
// is checked byte for byte against the one expected, in order. PROTOCOL line:
// a request is SIZE - 1 random lowercase letters and "\n", its reply the
// same line upper-cased. PROTOCOL lp: a request is a 4-byte big-endian
// length and SIZE random lowercase letters, its reply the same length and
// the letters upper-cased (an echo does not pass, nor a server that lost the
// frame boundaries). Latency is each request's, from being handed to send()
// to its reply's last byte. burst: the same, but DEPTH requests leave in one
// send and the next DEPTH only once all their replies came; latency is each
// burst's, from its send to its last reply ("two pipelined lines" is burst
// with DEPTH 2). A wrong reply counts in "mismatches" and in "failures", and
// its connection is closed and opened again (the stream is out of step).
//
// Prints one JSON line of figures (in pipeline and burst, "requests" counts
// only the replies that matched). A wrong count of arguments or a value it does not understand is
// refused with exit code 2, as the Node scripts refuse theirs
// (scripts/lib/args.mjs).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#ifdef WITH_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum { PINGPONG, CONNRATE, PIPELINE, BURST };
enum { TCP, UNIX, UDP, UNIXDGRAM };
enum { LINE, LP };

typedef struct {
  int fd;
#ifdef WITH_TLS
  SSL *ssl;          // the TLS session, with LOADGEN_TLS
  SSL_SESSION *last; // LOADGEN_TLS=resume: the session to resume next
  int handshaking;   // its handshake is not done yet
#endif
  size_t sent, received;
  double started;
  char path[108];
  // pipeline and burst: requests queued but not yet sent (out[out_start,
  // out_end)), and the ring of requests in flight, oldest at head: which
  // variant each is and when it was handed to send().
  char *out;
  size_t out_start, out_end, reply_offset;
  int *ring_variant;
  double *ring_sent;
  int index, head, in_flight, connected, watched;
  long next;
} client_t;

static int mode, transport, conns, size, depth, protocol;
static double seconds;
static struct sockaddr_storage target;
static socklen_t target_len;
static char *payload, *scratch;
// What one request sends: SIZE bytes, after a PROXY header when asked for.
static size_t send_len;
// The bytes a reply has: SIZE, or an RPC reply's length with LOADGEN_RPC.
static size_t expect_len;
// LOADGEN_RPC: where the xid is in the payload (-1 without it), and the last one sent.
static long rpc_xid_at = -1;
static unsigned int rpc_xid;
static int epfd;
static long requests, failures, mismatches, samples;
// pipeline and burst: VARIANTS different requests, laid end to end in
// requests_made, and their replies in replies_expected. Consecutive requests
// on a connection are different variants, so a reply out of order fails.
static char *requests_made, *replies_expected;
static size_t request_len, reply_len;
static int variants;
// Latency histogram: 1 µs buckets up to 100 ms.
#define BUCKETS 100000
static long histogram[BUCKETS + 1];

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

#ifdef WITH_TLS
static SSL_CTX *tls_ctx;
static int resume_sessions;  // LOADGEN_TLS=resume
static long resumed;         // handshakes that resumed a session

/** LOADGEN_TLS=resume: each ticket the server sends replaces its client's session to resume. */
static int keep_session(SSL *ssl, SSL_SESSION *session) {
  client_t *c = SSL_get_app_data(ssl);
  if (c->last != NULL) SSL_SESSION_free(c->last);
  c->last = session;
  return 1;
}

/** send() or SSL_write(): bytes written, or -1 with errno EAGAIN when it would block. */
static ssize_t client_send(client_t *c, const void *buf, size_t len) {
  if (c->ssl == NULL) return send(c->fd, buf, len, MSG_NOSIGNAL);
  int r = SSL_write(c->ssl, buf, (int)len);
  if (r > 0) return r;
  int e = SSL_get_error(c->ssl, r);
  errno = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? EAGAIN : EPIPE;
  return -1;
}

/** recv() or SSL_read(): bytes read, 0 at the end, or -1 with errno EAGAIN when nothing is there yet. */
static ssize_t client_recv(client_t *c, void *buf, size_t len) {
  if (c->ssl == NULL) return recv(c->fd, buf, len, 0);
  int r = SSL_read(c->ssl, buf, (int)len);
  if (r > 0) return r;
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_ZERO_RETURN) return 0;
  errno = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? EAGAIN : ECONNRESET;
  return -1;
}

static void client_close(client_t *c) {
  // Freed without a close_notify, OpenSSL would mark the session
  // unresumable: the close is a clean one.
  if (c->ssl != NULL && resume_sessions) SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN);
  if (c->ssl != NULL) SSL_free(c->ssl);
  c->ssl = NULL;
  close(c->fd);
}
#else
static ssize_t client_send(client_t *c, const void *buf, size_t len) { return send(c->fd, buf, len, MSG_NOSIGNAL); }
static ssize_t client_recv(client_t *c, void *buf, size_t len) { return recv(c->fd, buf, len, 0); }
static void client_close(client_t *c) { close(c->fd); }
#endif

static int open_socket(client_t *c, int index) {
  int dgram = transport == UDP || transport == UNIXDGRAM;
  int family = (transport == TCP || transport == UDP) ? AF_INET : AF_UNIX;
  int fd = socket(family, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  if (transport == TCP) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (transport == UNIXDGRAM) {
    // A datagram client must bind a path of its own to get replies.
    struct sockaddr_un self = {.sun_family = AF_UNIX};
    snprintf(c->path, sizeof c->path, "%s.c%d.%d", ((struct sockaddr_un *)&target)->sun_path, getpid(), index);
    unlink(c->path);
    strcpy(self.sun_path, c->path);
    if (bind(fd, (struct sockaddr *)&self, sizeof self) < 0) die("bind");
  }
  if (connect(fd, (struct sockaddr *)&target, target_len) < 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

static void watch(client_t *c, int events, int op) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(epfd, op, c->fd, &ev) < 0) die("epoll_ctl");
}

static void put32(char *at, unsigned int value) {
  at[0] = (char)(value >> 24);
  at[1] = (char)(value >> 16);
  at[2] = (char)(value >> 8);
  at[3] = (char)value;
}

static void start_request(client_t *c) {
  c->sent = c->received = 0;
  c->started = now();
  if (rpc_xid_at >= 0) put32(payload + rpc_xid_at, ++rpc_xid);
  ssize_t n = client_send(c, payload, send_len);
  if (n > 0) c->sent = n;
  watch(c, c->sent < send_len ? EPOLLIN | EPOLLOUT : EPOLLIN, EPOLL_CTL_MOD);
}

#ifdef WITH_TLS
/**
 * One step of a client's TLS handshake; 1 once it is done, 0 while it
 * waits (watching what OpenSSL wants), -1 when it failed.
 */
static int handshake_step(client_t *c) {
  int r = SSL_do_handshake(c->ssl);
  if (r == 1) {
    c->handshaking = 0;
    if (SSL_session_reused(c->ssl)) resumed++;
    return 1;
  }
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ) watch(c, EPOLLIN, EPOLL_CTL_MOD);
  else if (e == SSL_ERROR_WANT_WRITE) watch(c, EPOLLOUT, EPOLL_CTL_MOD);
  else return -1;
  return 0;
}
#endif

static void begin(client_t *c, int index) {
  c->fd = open_socket(c, index);
  if (c->fd < 0) {
    failures++;
    return;
  }
  watch(c, EPOLLOUT, EPOLL_CTL_ADD);
  c->sent = c->received = 0;
  c->started = now();
#ifdef WITH_TLS
  if (tls_ctx != NULL) {
    c->ssl = SSL_new(tls_ctx);
    if (c->ssl == NULL) die("SSL_new");
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_connect_state(c->ssl);
    SSL_set_app_data(c->ssl, c);
    if (c->last != NULL) {
      // OpenSSL's client spends a TLS 1.3 session it resumed (a browser
      // uses each ticket once); Node's server takes a ticket again, as
      // Node's client reuses one: resume a copy, keep the ticket.
      SSL_SESSION *copy = SSL_SESSION_dup(c->last);
      if (copy == NULL) die("SSL_SESSION_dup");
      SSL_set_session(c->ssl, copy);
      SSL_SESSION_free(copy);
    }
    c->handshaking = 1;
  }
#endif
}

static void record(double us) {
  histogram[us >= BUCKETS ? BUCKETS : (long)us]++;
  samples++;
}

static void finish_request(client_t *c, int index) {
  record((now() - c->started) * 1e6);
  requests++;
  if (mode == CONNRATE) {
    client_close(c);
    begin(c, index);
  } else {
    start_request(c);
  }
}

/** pipeline, burst: the requests and replies every connection draws from. */
static void make_variants(void) {
  request_len = protocol == LINE ? (size_t)size : 4 + (size_t)size;
  reply_len = request_len;
  // Up to 64 variants, fewer for large requests (at most about 4 MiB each way).
  size_t fit = ((size_t)4 << 20) / request_len;
  variants = fit >= 64 ? 64 : fit >= 2 ? (int)fit : 2;
  requests_made = malloc(variants * request_len);
  replies_expected = malloc(variants * reply_len);
  if (requests_made == NULL || replies_expected == NULL) die("malloc");
  unsigned long state = 0x9e3779b97f4a7c15UL;
  for (int v = 0; v < variants; v++) {
    char *request = requests_made + v * request_len, *reply = replies_expected + v * reply_len;
    char *letters = request, *upper = reply;
    size_t count = protocol == LINE ? (size_t)size - 1 : (size_t)size;
    if (protocol == LP) {
      unsigned char header[4] = {(unsigned char)(size >> 24), (unsigned char)(size >> 16), (unsigned char)(size >> 8), (unsigned char)size};
      memcpy(request, header, 4);
      memcpy(reply, header, 4);
      letters += 4;
      upper += 4;
    }
    for (size_t i = 0; i < count; i++) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      letters[i] = (char)('a' + state % 26);
      upper[i] = (char)(letters[i] - 'a' + 'A');
    }
    if (protocol == LINE) request[count] = reply[count] = '\n';
  }
}

static void pipeline_watch(client_t *c, int events) {
  if (c->watched == events) return;
  watch(c, events, EPOLL_CTL_MOD);
  c->watched = events;
}

/** Queues the next request of the connection, sent at `t`. */
static void queue_request(client_t *c, double t) {
  if (c->out_end + request_len > (size_t)depth * request_len) {
    memmove(c->out, c->out + c->out_start, c->out_end - c->out_start);
    c->out_end -= c->out_start;
    c->out_start = 0;
  }
  int variant = (int)((c->next++ + c->index) % variants);
  memcpy(c->out + c->out_end, requests_made + variant * request_len, request_len);
  c->out_end += request_len;
  int slot = (c->head + c->in_flight++) % depth;
  c->ring_variant[slot] = variant;
  c->ring_sent[slot] = t;
}

/** Sends what is queued; watches for room while some is left. */
static void pipeline_flush(client_t *c) {
  if (c->out_end > c->out_start) {
    ssize_t n = send(c->fd, c->out + c->out_start, c->out_end - c->out_start, MSG_NOSIGNAL);
    if (n > 0) c->out_start += n;
    if (c->out_start == c->out_end) c->out_start = c->out_end = 0;
  }
  pipeline_watch(c, c->out_end > c->out_start ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static void pipeline_begin(client_t *c, int index) {
  if (c->out == NULL) {
    c->out = malloc((size_t)depth * request_len);
    c->ring_variant = calloc(depth, sizeof(int));
    c->ring_sent = calloc(depth, sizeof(double));
    if (c->out == NULL || c->ring_variant == NULL || c->ring_sent == NULL) die("malloc");
  }
  c->out_start = c->out_end = c->reply_offset = 0;
  c->head = c->in_flight = c->connected = 0;
  c->index = index;
  c->fd = open_socket(c, index);
  if (c->fd < 0) {
    failures++;
    return;
  }
  watch(c, EPOLLOUT, EPOLL_CTL_ADD);
  c->watched = EPOLLOUT;
}

static void pipeline_restart(client_t *c, int index) {
  failures++;
  close(c->fd);
  pipeline_begin(c, index);
}

/** Checks the bytes read against the replies expected; queues the requests they call for. */
static int pipeline_received(client_t *c, const char *data, size_t n, double t) {
  while (n > 0) {
    if (c->in_flight == 0) return -1;
    int variant = c->ring_variant[c->head];
    size_t take = reply_len - c->reply_offset;
    if (take > n) take = n;
    if (memcmp(data, replies_expected + variant * reply_len + c->reply_offset, take) != 0) return -1;
    data += take;
    n -= take;
    c->reply_offset += take;
    if (c->reply_offset < reply_len) continue;
    c->reply_offset = 0;
    double sent = c->ring_sent[c->head];
    c->head = (c->head + 1) % depth;
    c->in_flight--;
    requests++;
    if (mode == PIPELINE) {
      record((t - sent) * 1e6);
      queue_request(c, t);
    } else if (c->in_flight == 0) {
      record((t - sent) * 1e6);
      for (int i = 0; i < depth; i++) queue_request(c, t);
    }
  }
  return 0;
}

static void pipeline_event(client_t *c, int index, unsigned events) {
  if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
    pipeline_restart(c, index);
    return;
  }
  if (!c->connected && events & EPOLLOUT) {
    c->connected = 1;
    double t = now();
    for (int i = 0; i < depth; i++) queue_request(c, t);
  }
  if (events & EPOLLIN) {
    for (;;) {
      ssize_t r = recv(c->fd, scratch, 65536, 0);
      if (r > 0) {
        if (pipeline_received(c, scratch, r, now()) == 0) continue;
        mismatches++;
        pipeline_restart(c, index);
        return;
      }
      if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        pipeline_restart(c, index);
        return;
      }
      break;
    }
  }
  pipeline_flush(c);
}

static double percentile(double p) {
  long target_count = (long)(samples * p), seen = 0;
  for (long i = 0; i <= BUCKETS; i++) {
    seen += histogram[i];
    if (seen > target_count) return i;
  }
  return BUCKETS;
}

#define USAGE \
  "Usage: loadgen pingpong|connrate tcp|unix|udp|unixdgram TARGET CONNS SIZE SECONDS [IDLE]   (started by bench/run.mjs)\n" \
  "       loadgen pipeline|burst tcp|unix TARGET CONNS SIZE SECONDS DEPTH line|lp\n"

/** One line naming the argument and what was expected, then the usage; exit 2. */
static void refuse(const char *name, const char *value, const char *expected) {
  fprintf(stderr, "Cannot use %s \"%s\": expected %s\n" USAGE, name, value, expected);
  exit(2);
}

/** A whole number from `minimum` to INT_MAX, or refuse. */
static int count_from(const char *name, const char *text, int minimum) {
  char *end;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (*text < '0' || *text > '9' || *end != 0 || errno != 0 || value > 0x7fffffff || value < minimum) {
    char expected[64];
    snprintf(expected, sizeof expected, "a whole number of %d or more", minimum);
    refuse(name, text, expected);
  }
  return (int)value;
}

/** A whole number from 0 to INT_MAX, or refuse. */
static int count(const char *name, const char *text) {
  return count_from(name, text, 0);
}

int main(int argc, char **argv) {
  // pipeline and burst take DEPTH and PROTOCOL where the others take [IDLE].
  int piped = argc > 1 && (strcmp(argv[1], "pipeline") == 0 || strcmp(argv[1], "burst") == 0);
  int fewest = piped ? 9 : 7, most = piped ? 9 : 8;
  if (argc < fewest || argc > most) {
    if (argc >= fewest) fprintf(stderr, "Cannot use \"%s\": unexpected argument\n" USAGE, argv[most]);
    else if (piped) fprintf(stderr, "Cannot run with %d arguments: expected 8 with MODE %s\n" USAGE, argc - 1, argv[1]);
    else fprintf(stderr, "Cannot run with %d arguments: expected 6 or 7\n" USAGE, argc - 1);
    return 2;
  }
  if (strcmp(argv[1], "pingpong") == 0) mode = PINGPONG;
  else if (strcmp(argv[1], "connrate") == 0) mode = CONNRATE;
  else if (strcmp(argv[1], "pipeline") == 0) mode = PIPELINE;
  else if (strcmp(argv[1], "burst") == 0) mode = BURST;
  else refuse("MODE", argv[1], "pingpong, connrate, pipeline or burst");
  if (strcmp(argv[2], "tcp") == 0) transport = TCP;
  else if (strcmp(argv[2], "unix") == 0) transport = UNIX;
  else if (strcmp(argv[2], "udp") == 0 && !piped) transport = UDP;
  else if (strcmp(argv[2], "unixdgram") == 0 && !piped) transport = UNIXDGRAM;
  else if (piped) refuse("TRANSPORT", argv[2], "tcp or unix (MODE pipeline and burst are stream modes)");
  else refuse("TRANSPORT", argv[2], "tcp, unix, udp or unixdgram");
  if (piped) {
    conns = count_from("CONNS", argv[4], 1);
    depth = count_from("DEPTH", argv[7], 1);
    if (strcmp(argv[8], "line") == 0) protocol = LINE;
    else if (strcmp(argv[8], "lp") == 0) protocol = LP;
    else refuse("PROTOCOL", argv[8], "line or lp");
    // A line is at least one letter and its newline.
    size = count_from("SIZE", argv[5], protocol == LINE ? 2 : 0);
  } else {
    conns = count("CONNS", argv[4]);
    size = count("SIZE", argv[5]);
  }
  char *end;
  seconds = strtod(argv[6], &end);
  if (*argv[6] == 0 || *end != 0 || !(seconds > 0)) refuse("SECONDS", argv[6], "a positive number");
  int idle = argc > 7 && !piped ? count("IDLE", argv[7]) : 0;
  memset(&target, 0, sizeof target);
  if (transport == TCP || transport == UDP) {
    struct sockaddr_in *in = (struct sockaddr_in *)&target;
    char host[64];
    snprintf(host, sizeof host, "%s", argv[3]);
    char *colon = strrchr(host, ':');
    if (colon == NULL) refuse("TARGET", argv[3], "HOST:PORT with an IPv4 host");
    *colon = 0;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != 0 || port > 65535 || inet_pton(AF_INET, host, &in->sin_addr) != 1)
      refuse("TARGET", argv[3], "HOST:PORT with an IPv4 host");
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    target_len = sizeof *in;
  } else {
    struct sockaddr_un *un = (struct sockaddr_un *)&target;
    un->sun_family = AF_UNIX;
    snprintf(un->sun_path, sizeof un->sun_path, "%s", argv[3]);
    target_len = sizeof *un;
  }
  // A PROXY v2 header: signature, PROXY over TCP/IPv4, 12 address bytes
  // (client 192.0.2.1:4660, destination 127.0.0.1:7).
  static const unsigned char proxy_v2[28] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c,
                                             192,  0,    2,    1,    127,  0,    0,    1,    0x12, 0x34, 0x00, 0x07};
  const char *proxy = getenv("LOADGEN_PROXY_V2");
  size_t header_len = 0;
  if (proxy != NULL && *proxy != 0) {
    if (mode != CONNRATE || transport != TCP) {
      fprintf(stderr, "Cannot send PROXY headers: LOADGEN_PROXY_V2 needs MODE connrate and TRANSPORT tcp\n");
      return 2;
    }
    header_len = sizeof proxy_v2;
  }
  send_len = header_len + (size_t)size;
  const char *with_tls = getenv("LOADGEN_TLS");
  if (with_tls != NULL && *with_tls != 0) {
#ifdef WITH_TLS
    if ((mode != CONNRATE && mode != PINGPONG) || transport != TCP) {
      fprintf(stderr, "Cannot speak TLS: LOADGEN_TLS needs MODE pingpong or connrate and TRANSPORT tcp\n");
      return 2;
    }
    tls_ctx = SSL_CTX_new(TLS_client_method());
    if (tls_ctx == NULL) die("SSL_CTX_new");
    SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
    // Every connection a full handshake, as a new client's would be; or
    // each resuming the last session its client was given (keep_session).
    resume_sessions = strcmp(with_tls, "resume") == 0;
    SSL_CTX_set_session_cache_mode(tls_ctx, resume_sessions ? SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL : SSL_SESS_CACHE_OFF);
    if (resume_sessions) SSL_CTX_sess_set_new_cb(tls_ctx, keep_session);
#else
    fprintf(stderr, "Cannot speak TLS: this load generator was built without it (libssl-dev missing)\n");
    return 2;
#endif
  }
  expect_len = (size_t)size;
  const char *rpc = getenv("LOADGEN_RPC");
  unsigned int rpc_prog = 0, rpc_vers = 0, rpc_proc = 0;
  if (rpc != NULL && *rpc != 0) {
    if (mode != PINGPONG || (transport != TCP && transport != UDP)) {
      fprintf(stderr, "Cannot make RPC calls: LOADGEN_RPC needs MODE pingpong and TRANSPORT tcp or udp\n");
      return 2;
    }
    if (sscanf(rpc, "%u.%u.%u", &rpc_prog, &rpc_vers, &rpc_proc) != 3) refuse("LOADGEN_RPC", rpc, "PROG.VERS.PROC");
    size_t mark = transport == TCP ? 4 : 0, padded = ((size_t)size + 3) & ~(size_t)3;
    size_t argument = size > 0 ? 4 + padded : 0;
    send_len = mark + 40 + argument;
    expect_len = mark + 24 + argument;
    rpc_xid_at = (long)mark;
  }
  payload = calloc(send_len > 0 ? send_len : 1, 1);
  scratch = malloc(expect_len > 65536 ? expect_len : 65536);
  memcpy(payload, proxy_v2, header_len);
  memset(payload + header_len, 'x', size);
  if (rpc_xid_at >= 0) {
    // The call: xid, CALL, RPC version 2, program, version, procedure, AUTH_NONE twice, the opaque.
    char *call = payload + rpc_xid_at;
    if (rpc_xid_at > 0) put32(payload, 0x80000000u | (unsigned int)(send_len - 4));
    unsigned int words[10] = {0, 0, 2, rpc_prog, rpc_vers, rpc_proc, 0, 0, 0, 0};
    for (int w = 0; w < 10; w++) put32(call + 4 * w, words[w]);
    if (size > 0) {
      put32(call + 40, (unsigned int)size);
      memset(call + 44, 'x', (size_t)size);
    }
  }
  // Line protocols: end each request with a newline.
  const char *line = getenv("LOADGEN_LINE");
  if (line != NULL && *line != 0 && size > 0) payload[send_len - 1] = '\n';
  if (piped) make_variants();
  epfd = epoll_create1(0);

  int *idle_fds = calloc(idle > 0 ? idle : 1, sizeof(int));
  for (int i = 0; i < idle; i++) {
    client_t dummy;
    idle_fds[i] = open_socket(&dummy, -1);
  }
  // Let the idle connections be accepted before the clock starts: a full
  // accept queue drops SYNs, and a dropped SYN waits a second to retry.
  if (idle > 0) {
    int waitfd = epoll_create1(0);
    for (int i = 0; i < idle; i++) {
      struct epoll_event ev = {.events = EPOLLOUT, .data.fd = idle_fds[i]};
      if (idle_fds[i] >= 0) epoll_ctl(waitfd, EPOLL_CTL_ADD, idle_fds[i], &ev);
    }
    int ready = 0;
    double until = now() + 10;
    struct epoll_event evs[1024];
    while (ready < idle && now() < until) {
      int n = epoll_wait(waitfd, evs, 1024, 100);
      for (int e = 0; e < n; e++) {
        epoll_ctl(waitfd, EPOLL_CTL_DEL, evs[e].data.fd, NULL);
        ready++;
      }
    }
    close(waitfd);
  }
  client_t *clients = calloc(conns > 0 ? conns : 1, sizeof(client_t));
  if (clients == NULL) die("calloc");
  for (int i = 0; i < conns; i++) {
    if (piped) pipeline_begin(&clients[i], i);
    else begin(&clients[i], i);
  }

  struct epoll_event events[256];
  double start = now(), deadline = start + seconds;
  int dgram = transport == UDP || transport == UNIXDGRAM;
  while (now() < deadline) {
    int n = epoll_wait(epfd, events, 256, 50);
    if (dgram) {
      // A lost datagram is counted and sent again after 200 ms.
      double t = now();
      for (int i = 0; i < conns; i++)
        if (clients[i].fd >= 0 && clients[i].started > 0 && t - clients[i].started > 0.2) {
          failures++;
          start_request(&clients[i]);
        }
    }
    for (int e = 0; e < n; e++) {
      client_t *c = events[e].data.ptr;
      int index = (int)(c - clients);
      if (piped) {
        pipeline_event(c, index, events[e].events);
        continue;
      }
      if (events[e].events & (EPOLLERR | EPOLLHUP) && !(events[e].events & EPOLLIN)) {
        failures++;
        client_close(c);
        begin(c, index);
        continue;
      }
#ifdef WITH_TLS
      if (c->ssl != NULL && c->handshaking) {
        int done = handshake_step(c);
        if (done < 0) {
          failures++;
          client_close(c);
          begin(c, index);
        } else if (done > 0) {
          start_request(c);
        }
        continue;
      }
#endif
      if (events[e].events & EPOLLOUT) {
        if (c->sent == 0 && c->received == 0 && c->started > 0) {
          start_request(c);
          continue;
        }
        ssize_t w = client_send(c, payload + c->sent, send_len - c->sent);
        if (w > 0) c->sent += w;
        if (c->sent == send_len) watch(c, EPOLLIN, EPOLL_CTL_MOD);
      }
      if (events[e].events & EPOLLIN) {
        for (;;) {
          ssize_t r = client_recv(c, scratch, expect_len > 65536 ? 65536 : (expect_len > 0 ? expect_len : 1));
          if (r > 0) {
            c->received += r;
            if (c->received >= expect_len) {
              finish_request(c, index);
              break;
            }
            continue;
          }
          if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            failures++;
            client_close(c);
            begin(c, index);
          }
          break;
        }
      }
    }
  }
  double elapsed = now() - start;
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
#ifdef WITH_TLS
  long resumed_handshakes = resumed;
#else
  long resumed_handshakes = 0;
#endif
  printf("{\"requests\":%ld,\"seconds\":%.3f,\"p50_us\":%.0f,\"p99_us\":%.0f,\"failures\":%ld,\"mismatches\":%ld,\"loadgen_cpu\":%.3f,\"resumed\":%ld}\n",
         requests, elapsed, percentile(0.5), percentile(0.99), failures, mismatches, cpu, resumed_handshakes);
  for (int i = 0; i < conns; i++)
    if (clients[i].path[0]) unlink(clients[i].path);
  return 0;
}
