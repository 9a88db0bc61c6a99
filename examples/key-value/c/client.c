/*
 * A C client of the key-value store, with the stubs rpcgen makes from kv.x
 * (`rpcgen -l` for the client stubs): `client tcp|udp HOST PORT` runs the
 * same conversation against any server of KV_PROG, printing one line per
 * call, so that the TypeScript and C servers can be compared.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kv.h"

static void put(CLIENT *client, char *key, char *value) {
  kv_entry entry = {.key = key, .value = {.kv_value_len = (u_int)strlen(value), .kv_value_val = value}};
  kv_status *status = kv_put_1(&entry, client);
  if (status == NULL) clnt_perror(client, "KV_PUT"), exit(1);
  printf("PUT %s %s -> %d\n", key, value, *status);
}

static void get(CLIENT *client, char *key) {
  kv_get_result *result = kv_get_1(&key, client);
  if (result == NULL) clnt_perror(client, "KV_GET"), exit(1);
  if (result->status == KV_OK)
    printf("GET %s -> %.*s\n", key, (int)result->kv_get_result_u.value.kv_value_len, result->kv_get_result_u.value.kv_value_val);
  else
    printf("GET %s -> status %d\n", key, result->status);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: client tcp|udp HOST PORT\n");
    return 2;
  }
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[3]))};
  inet_pton(AF_INET, argv[2], &address.sin_addr);
  int fd = RPC_ANYSOCK;
  struct timeval wait = {.tv_sec = 1, .tv_usec = 0};
  CLIENT *client = strcmp(argv[1], "udp") == 0 ? clntudp_create(&address, KV_PROG, KV_V1, wait, &fd)
                                               : clnttcp_create(&address, KV_PROG, KV_V1, &fd, 0, 0);
  if (client == NULL) {
    clnt_pcreateerror("client");
    return 1;
  }
  if (kv_null_1(NULL, client) == NULL) clnt_perror(client, "KV_NULL"), exit(1);
  printf("NULL -> ok\n");
  put(client, "a", "1");
  put(client, "b", "hello");
  put(client, "a", "one");
  get(client, "a");
  get(client, "b");
  get(client, "missing");
  u_int *count = kv_count_1(NULL, client);
  printf("COUNT -> %u\n", *count);
  kv_list_ptr *list = kv_list_1(NULL, client);
  printf("LIST ->");
  for (kv_list *cell = *list; cell != NULL; cell = cell->next)
    printf(" %s=%.*s", cell->entry.key, (int)cell->entry.value.kv_value_len, cell->entry.value.kv_value_val);
  printf("\n");
  char *key = "a";
  bool_t *deleted = kv_delete_1(&key, client);
  printf("DELETE a -> %d\n", *deleted);
  deleted = kv_delete_1(&key, client);
  printf("DELETE a -> %d\n", *deleted);
  kv_value value = {.kv_value_len = 5, .kv_value_val = "x\001y\000z"};
  kv_value *echoed = kv_echo_1(&value, client);
  printf("ECHO -> %u bytes, %s\n", echoed->kv_value_len, memcmp(echoed->kv_value_val, value.kv_value_val, 5) == 0 ? "same" : "different");
  count = kv_count_1(NULL, client);
  printf("COUNT -> %u\n", *count);
  clnt_destroy(client);
  return 0;
}
