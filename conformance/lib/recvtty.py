#!/usr/bin/env python3
"""A console-socket receiver for tests, like runc's contrib/cmd/recvtty.

    recvtty.py SOCKET OUT [INPUT]

Listens on the unix socket SOCKET (what a runtime's --console-socket
names), takes the pty master the runtime sends with SCM_RIGHTS from one
connection, writes INPUT (if given) to it, then copies everything the
container prints on the terminal to the file OUT (carriage returns
removed) until the last holder of the pty's slave closes it. Exits 0 after
that, 2 when no master came within 60 s.
"""

import array
import os
import socket
import sys


def receive_master(path: str) -> int:
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(60)
    conn, _ = srv.accept()
    fds = array.array("i")
    _, ancdata, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    conn.close()
    srv.close()
    if not fds:
        raise RuntimeError("no fd in the console socket's message")
    return fds[0]


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 64
    try:
        master = receive_master(sys.argv[1])
    except (OSError, RuntimeError) as e:
        print(f"recvtty: {e}", file=sys.stderr)
        return 2
    if len(sys.argv) == 4:
        os.write(master, sys.argv[3].encode())
    with open(sys.argv[2], "wb", buffering=0) as out:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: no slave holder left
                break
            if not chunk:
                break
            out.write(chunk.replace(b"\r", b""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
