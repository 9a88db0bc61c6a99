"""The Python baseline: the standard library's socketserver, as the docs use it.

    python3 python_socketserver.py CLASS SERVICE
    CLASS   TCPServer | ThreadingTCPServer | ForkingTCPServer | UDPServer |
            ThreadingUDPServer | ThreadingUnixStreamServer | UnixDatagramServer
    SERVICE echo | upper

Prints "READY <address>"; SIGTERM stops it.
"""
import os
import signal
import socketserver
import sys
import tempfile
import threading

cls_name, service = sys.argv[1], sys.argv[2]
cls = getattr(socketserver, cls_name)
unix = "Unix" in cls_name
datagram = "UDP" in cls_name or "Datagram" in cls_name


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
