/*
 * The key-value store as a C server, with the stubs rpcgen makes from kv.x
 * (`rpcgen -m kv.x` for the dispatcher, `rpcgen -c` for the XDR routines,
 * `rpcgen -h` for kv.h) and libtirpc's svc_run(). It serves on 127.0.0.1,
 * TCP and UDP, at ports the kernel picks (given on stdout as "ready tcp N
 * udp M"), without a portmapper. Used by the interop tests and the bench.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "kv.h"

extern void kv_prog_1(struct svc_req *rqstp, SVCXPRT *transp);

#define SLOTS 1024
static struct {
  char *key;
  char *bytes;
  u_int length;
} store[SLOTS];
static u_int used;

static int find(const char *key) {
  for (u_int i = 0; i < used; i++)
    if (strcmp(store[i].key, key) == 0) return (int)i;
  return -1;
}

void *kv_null_1_svc(void *argp, struct svc_req *rqstp) {
  static char nothing;
  (void)argp;
  (void)rqstp;
  return &nothing;
}

kv_status *kv_put_1_svc(kv_entry *entry, struct svc_req *rqstp) {
  static kv_status status;
  (void)rqstp;
  int at = find(entry->key);
  if (at < 0 && used == SLOTS) {
    status = KV_FULL;
    return &status;
  }
  if (at < 0) {
    at = (int)used++;
    store[at].key = strdup(entry->key);
  } else {
    free(store[at].bytes);
  }
  store[at].bytes = malloc(entry->value.kv_value_len + 1);
  memcpy(store[at].bytes, entry->value.kv_value_val, entry->value.kv_value_len);
  store[at].length = entry->value.kv_value_len;
  status = KV_OK;
  return &status;
}

kv_get_result *kv_get_1_svc(kv_key *key, struct svc_req *rqstp) {
  static kv_get_result result;
  (void)rqstp;
  int at = find(*key);
  if (at < 0) {
    result.status = KV_NOT_FOUND;
  } else {
    result.status = KV_OK;
    result.kv_get_result_u.value.kv_value_len = store[at].length;
    result.kv_get_result_u.value.kv_value_val = store[at].bytes;
  }
  return &result;
}

bool_t *kv_delete_1_svc(kv_key *key, struct svc_req *rqstp) {
  static bool_t deleted;
  (void)rqstp;
  int at = find(*key);
  deleted = at >= 0;
  if (deleted) {
    free(store[at].key);
    free(store[at].bytes);
    store[at] = store[--used];
  }
  return &deleted;
}

kv_list_ptr *kv_list_1_svc(void *argp, struct svc_req *rqstp) {
  static kv_list_ptr head;
  static kv_list cells[SLOTS];
  (void)argp;
  (void)rqstp;
  head = NULL;
  for (u_int i = used; i-- > 0;) {
    cells[i].entry.key = store[i].key;
    cells[i].entry.value.kv_value_len = store[i].length;
    cells[i].entry.value.kv_value_val = store[i].bytes;
    cells[i].next = head;
    head = &cells[i];
  }
  return &head;
}

u_int *kv_count_1_svc(void *argp, struct svc_req *rqstp) {
  static u_int count;
  (void)argp;
  (void)rqstp;
  count = used;
  return &count;
}

kv_value *kv_echo_1_svc(kv_value *value, struct svc_req *rqstp) {
  static kv_value echoed;
  static char buffer[KV_MAX_VALUE];
  (void)rqstp;
  memcpy(buffer, value->kv_value_val, value->kv_value_len);
  echoed.kv_value_len = value->kv_value_len;
  echoed.kv_value_val = buffer;
  return &echoed;
}

static int bound(int type, int port) {
  int fd = socket(AF_INET, type, 0);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
    perror("bind");
    exit(1);
  }
  if (type == SOCK_STREAM && listen(fd, 1024) != 0) {
    perror("listen");
    exit(1);
  }
  return fd;
}

static int port_of(int fd) {
  struct sockaddr_in address;
  socklen_t length = sizeof address;
  getsockname(fd, (struct sockaddr *)&address, &length);
  return ntohs(address.sin_port);
}

int main(void) {
  int tcp = bound(SOCK_STREAM, 0);
  int udp = bound(SOCK_DGRAM, 0);
  SVCXPRT *stream = svctcp_create(tcp, 0, 0);
  SVCXPRT *datagram = svcudp_create(udp);
  /* Protocol 0: served, and not registered with a portmapper. */
  if (stream == NULL || datagram == NULL || !svc_register(stream, KV_PROG, KV_V1, kv_prog_1, 0) ||
      !svc_register(datagram, KV_PROG, KV_V1, kv_prog_1, 0)) {
    fprintf(stderr, "cannot serve KV_PROG\n");
    return 1;
  }
  printf("ready tcp %d udp %d\n", port_of(tcp), port_of(udp));
  fflush(stdout);
  svc_run();
  return 1;
}
