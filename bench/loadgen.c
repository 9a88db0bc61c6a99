// A small epoll load generator for `pnpm bench`. One thread, non-blocking
// sockets, so it stays far from saturating its own CPU while the server
// under test saturates its own.
//
//   loadgen MODE TRANSPORT TARGET CONNS SIZE SECONDS [IDLE]
//   MODE      pingpong | connrate
//   TRANSPORT tcp | unix | udp | unixdgram
//   TARGET    HOST:PORT (IPv4) or a socket path
//
// pingpong: CONNS clients each send SIZE bytes and wait for SIZE bytes back,
// over and over. connrate: CONNS clients each connect, send SIZE bytes, read
// SIZE bytes back, close. IDLE extra connections are opened first and kept
// silent. Prints one JSON line of figures. A wrong count of arguments or a
// value it does not understand is refused with exit code 2, as the Node
// scripts refuse theirs (scripts/lib/args.mjs).
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum { PINGPONG, CONNRATE };
enum { TCP, UNIX, UDP, UNIXDGRAM };

typedef struct {
  int fd;
  size_t sent, received;
  double started;
  char path[108];
} client_t;

static int mode, transport, conns, size;
static double seconds;
static struct sockaddr_storage target;
static socklen_t target_len;
static char *payload, *scratch;
static int epfd;
static long requests, failures;
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

static void start_request(client_t *c) {
  c->sent = c->received = 0;
  c->started = now();
  ssize_t n = send(c->fd, payload, size, MSG_NOSIGNAL);
  if (n > 0) c->sent = n;
  watch(c, c->sent < (size_t)size ? EPOLLIN | EPOLLOUT : EPOLLIN, EPOLL_CTL_MOD);
}

static void begin(client_t *c, int index) {
  c->fd = open_socket(c, index);
  if (c->fd < 0) {
    failures++;
    return;
  }
  watch(c, EPOLLOUT, EPOLL_CTL_ADD);
  c->sent = c->received = 0;
  c->started = now();
}

static void finish_request(client_t *c, int index) {
  double us = (now() - c->started) * 1e6;
  histogram[us >= BUCKETS ? BUCKETS : (long)us]++;
  requests++;
  if (mode == CONNRATE) {
    close(c->fd);
    begin(c, index);
  } else {
    start_request(c);
  }
}

static double percentile(double p) {
  long target_count = (long)(requests * p), seen = 0;
  for (long i = 0; i <= BUCKETS; i++) {
    seen += histogram[i];
    if (seen > target_count) return i;
  }
  return BUCKETS;
}

#define USAGE "Usage: loadgen pingpong|connrate tcp|unix|udp|unixdgram TARGET CONNS SIZE SECONDS [IDLE]   (started by bench/run.mjs)\n"

/** One line naming the argument and what was expected, then the usage; exit 2. */
static void refuse(const char *name, const char *value, const char *expected) {
  fprintf(stderr, "Cannot use %s \"%s\": expected %s\n" USAGE, name, value, expected);
  exit(2);
}

/** A whole number from 0 to INT_MAX, or refuse. */
static int count(const char *name, const char *text) {
  char *end;
  errno = 0;
  long value = strtol(text, &end, 10);
  if (*text < '0' || *text > '9' || *end != 0 || errno != 0 || value > 0x7fffffff)
    refuse(name, text, "a whole number of 0 or more");
  return (int)value;
}

int main(int argc, char **argv) {
  if (argc < 7 || argc > 8) {
    if (argc < 7) fprintf(stderr, "Cannot run with %d arguments: expected 6 or 7\n" USAGE, argc - 1);
    else fprintf(stderr, "Cannot use \"%s\": unexpected argument\n" USAGE, argv[8]);
    return 2;
  }
  if (strcmp(argv[1], "pingpong") == 0) mode = PINGPONG;
  else if (strcmp(argv[1], "connrate") == 0) mode = CONNRATE;
  else refuse("MODE", argv[1], "pingpong or connrate");
  if (strcmp(argv[2], "tcp") == 0) transport = TCP;
  else if (strcmp(argv[2], "unix") == 0) transport = UNIX;
  else if (strcmp(argv[2], "udp") == 0) transport = UDP;
  else if (strcmp(argv[2], "unixdgram") == 0) transport = UNIXDGRAM;
  else refuse("TRANSPORT", argv[2], "tcp, unix, udp or unixdgram");
  conns = count("CONNS", argv[4]);
  size = count("SIZE", argv[5]);
  char *end;
  seconds = strtod(argv[6], &end);
  if (*argv[6] == 0 || *end != 0 || !(seconds > 0)) refuse("SECONDS", argv[6], "a positive number");
  int idle = argc > 7 ? count("IDLE", argv[7]) : 0;
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
  payload = malloc(size > 0 ? size : 1);
  scratch = malloc(size > 65536 ? size : 65536);
  memset(payload, 'x', size);
  // Line protocols: end each request with a newline.
  const char *line = getenv("LOADGEN_LINE");
  if (line != NULL && *line != 0 && size > 0) payload[size - 1] = '\n';
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
  client_t *clients = calloc(conns, sizeof(client_t));
  for (int i = 0; i < conns; i++) begin(&clients[i], i);

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
      if (events[e].events & (EPOLLERR | EPOLLHUP) && !(events[e].events & EPOLLIN)) {
        failures++;
        close(c->fd);
        begin(c, index);
        continue;
      }
      if (events[e].events & EPOLLOUT) {
        if (c->sent == 0 && c->received == 0 && c->started > 0) {
          start_request(c);
          continue;
        }
        ssize_t w = send(c->fd, payload + c->sent, size - c->sent, MSG_NOSIGNAL);
        if (w > 0) c->sent += w;
        if (c->sent == (size_t)size) watch(c, EPOLLIN, EPOLL_CTL_MOD);
      }
      if (events[e].events & EPOLLIN) {
        for (;;) {
          ssize_t r = recv(c->fd, scratch, size > 65536 ? 65536 : (size > 0 ? size : 1), 0);
          if (r > 0) {
            c->received += r;
            if (c->received >= (size_t)size) {
              finish_request(c, index);
              break;
            }
            continue;
          }
          if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            failures++;
            close(c->fd);
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
  printf("{\"requests\":%ld,\"seconds\":%.3f,\"p50_us\":%.0f,\"p99_us\":%.0f,\"failures\":%ld,\"loadgen_cpu\":%.3f}\n", requests, elapsed,
         percentile(0.5), percentile(0.99), failures, cpu);
  for (int i = 0; i < conns; i++)
    if (clients[i].path[0]) unlink(clients[i].path);
  return 0;
}
