#!/bin/sh
# Builds the key-value store's C server and client from kv.x with rpcgen
# and libtirpc: `c/build.sh OUTDIR` writes OUTDIR/server and OUTDIR/client.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
cp "$here/../kv.x" "$out/kv.x"
cd "$out"
# rpcgen will not write over its own earlier output.
rm -f kv.h kv_xdr.c kv_clnt.c kv_svc.c
rpcgen -h kv.x -o kv.h
rpcgen -c kv.x -o kv_xdr.c
rpcgen -l kv.x -o kv_clnt.c
rpcgen -m kv.x -o kv_svc.c
flags="-O2 -I. -I/usr/include/tirpc -w"
gcc $flags -o server "$here/server.c" kv_svc.c kv_xdr.c -ltirpc
gcc $flags -o client "$here/client.c" kv_clnt.c kv_xdr.c -ltirpc
