"""Running `sketch2face serve`: a listening socket first, then uvicorn until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import socket

from fastapi import FastAPI

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
LISTEN_BACKLOG = 2048  # uvicorn's default
GRACEFUL_SHUTDOWN_SECONDS = 10  # for the requests in progress, queued ones included, to be answered


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port (port 0: a free one): a taken port is an error before anything starts,
    and a client that connects before the server runs waits in the backlog instead of being refused."""
    family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, protocol)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run_until_stopped(app: FastAPI, sock: socket.socket) -> str | None:
    """Serves until Ctrl-C or SIGTERM, lets the requests in progress finish, and returns the signal's name.

    uvicorn takes the signals while it serves and raises them again once it has shut down;
    they then land here, instead of ending the process with a KeyboardInterrupt or status 143.
    """
    import uvicorn

    received: list[int] = []
    previous = {
        number: signal.signal(number, lambda number, _frame: received.append(number)) for number in STOP_SIGNALS
    }
    try:
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        sock.close()
    return signal.Signals(received[0]).name if received else None
