#!/usr/bin/python3
"""A local user pretending to be the RDP server (run as that user by the
security tests). Listens, reports each connection waiting in the accept
queue ("queued"), accepts it at once or only when told ("accept" on stdin),
then reads until the peer closes and reports "received N" with N the bytes
that reached it. Standard library only.

usage: impostor.py tcp PORT|unix PATH  MODE...   (MODE per connection: now|late)
"""

import os
import select
import socket
import sys


def main():
    kind, where, modes = sys.argv[1], sys.argv[2], sys.argv[3:]
    if kind == "tcp":
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", int(where)))
        name = str(ls.getsockname()[1])
    else:
        ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ls.bind(where)
        os.chmod(where, 0o777)   # anyone may connect: md9 above all
        name = where
    ls.listen(8)
    print("listening %s" % name, flush=True)
    for mode in modes:
        select.select([ls], [], [])          # a connection is queued
        print("queued", flush=True)
        if mode == "late":
            line = sys.stdin.readline()
            if line.strip() != "accept":
                return 1
        c, _ = ls.accept()
        c.settimeout(30)
        total = 0
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    break
                total += len(data)
        except OSError as e:
            print("error %s" % e, flush=True)
        c.close()
        print("received %d" % total, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
