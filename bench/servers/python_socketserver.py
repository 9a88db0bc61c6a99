"""The Python baseline: the standard library's socketserver, as the docs use it.

    python3 python_socketserver.py CLASS SERVICE
    CLASS   TCPServer | ThreadingTCPServer | ForkingTCPServer | UDPServer |
            ThreadingUDPServer | ForkingUDPServer | ThreadingUnixStreamServer |
            UnixDatagramServer
    SERVICE echo | upper (upper: stream classes only)

Prints "READY <address>"; SIGTERM stops it. A wrong argument is refused with
exit code 2, as the Node scripts refuse theirs (scripts/lib/args.mjs).
"""
import json
import os
import signal
import socketserver
import sys
import tempfile
import threading

CLASSES = (
    "TCPServer",
    "ThreadingTCPServer",
    "ForkingTCPServer",
    "UDPServer",
    "ThreadingUDPServer",
    "ForkingUDPServer",
    "ThreadingUnixStreamServer",
    "UnixDatagramServer",
)
USAGE = """Usage: python3 bench/servers/python_socketserver.py CLASS SERVICE   (started by bench/run.mjs)
  CLASS       %s
  SERVICE     echo | upper (upper: stream classes only)
  -h, --help  print this and exit""" % " | ".join(CLASSES)


def refuse(message):
    sys.stderr.write(f"{message}\n{USAGE}\n")
    sys.exit(2)


args = sys.argv[1:]
if "-h" in args or "--help" in args:
    print(USAGE)
    sys.exit(0)
for arg in args:
    if arg.startswith("-"):
        refuse(f"Cannot use {arg}: unknown option")
if len(args) < 2:
    refuse(f"Cannot run without {('CLASS', 'SERVICE')[len(args)]}: expected CLASS SERVICE")
if len(args) > 2:
    refuse(f"Cannot use {json.dumps(args[2])}: unexpected argument")
cls_name, service = args
if cls_name not in CLASSES:
    refuse(f"Cannot use CLASS {json.dumps(cls_name)}: expected {', '.join(CLASSES[:-1])} or {CLASSES[-1]}")
unix = "Unix" in cls_name
datagram = "UDP" in cls_name or "Datagram" in cls_name
if service not in ("echo", "upper"):
    refuse(f"Cannot use SERVICE {json.dumps(service)}: expected echo or upper")
if datagram and service != "echo":
    refuse(f"Cannot use SERVICE {json.dumps(service)} with CLASS {json.dumps(cls_name)}: expected echo")
cls = getattr(socketserver, cls_name)


class StreamEcho(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


class StreamUpper(socketserver.StreamRequestHandler):
    # The docs' example, looping over lines.
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line.upper())


class DatagramEcho(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data, self.client_address)


if datagram:
    handler = DatagramEcho
else:
    handler = StreamUpper if service == "upper" else StreamEcho

cls.allow_reuse_address = True
cls.request_queue_size = 4096
cls.daemon_threads = True
cls.max_packet_size = 65536
if unix:
    address = os.path.join(tempfile.gettempdir(), f"ss-bench-py-{os.getpid()}.sock")
else:
    address = ("127.0.0.1", 0)
server = cls(address, handler)
if hasattr(server, "max_children"):
    server.max_children = 64
where = server.server_address
print("READY " + (where if unix else f"{where[0]}:{where[1]}"), flush=True)


def stop(*_):
    threading.Thread(target=server.shutdown, daemon=True).start()


signal.signal(signal.SIGTERM, stop)
server.serve_forever(poll_interval=0.5)
server.server_close()
if unix:
    os.unlink(address)
