"""Outgoing network connections are blocked while the probe runs the app.

The probe runs application code on the user's machine; a route that talks to a payment
provider, a production database or a metrics service must not reach it. What stays allowed:
Unix sockets and loopback addresses (127.0.0.0/8, ::1, ``localhost``), because local test
servers and socketpair-style plumbing use them and they leave the machine alone. Every other
``connect``/``connect_ex``/``create_connection``/``getaddrinfo`` raises
``NetworkBlockedError`` (a ``ConnectionRefusedError``, so code that handles refused
connections keeps working) and is recorded, so the runner can name the route and the address
even when the application swallows the error.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class NetworkBlockedError(ConnectionRefusedError):
    pass


@dataclass(frozen=True)
class Attempt:
    where: str  # the route (or "while loading the app") active when it happened
    address: str  # host:port as the code gave it


def is_local(host: object) -> bool:
    if host is None:
        return True  # getaddrinfo(None, port): the local host's own addresses
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").lower()
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def describe_address(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        host = host.decode("ascii", "replace") if isinstance(host, bytes) else host
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return repr(address)


class NetworkGuard:
    """Patches the socket module while active; ``where`` names what runs right now."""

    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        self.where = "while loading the app"
        self._lock = threading.Lock()
        self._saved: dict[str, object] = {}

    def _refuse(self, address: object) -> None:
        described = describe_address(address)
        with self._lock:
            if len(self.attempts) < 100:
                self.attempts.append(Attempt(self.where, described))
        raise NetworkBlockedError(
            f"flaskleak probe blocks outgoing connections (tried {described})"
        )

    def __enter__(self) -> "NetworkGuard":
        guard = self
        original_connect = socket.socket.connect
        original_connect_ex = socket.socket.connect_ex
        original_create_connection = socket.create_connection
        original_getaddrinfo = socket.getaddrinfo
        self._saved = {
            "connect": original_connect,
            "connect_ex": original_connect_ex,
            "create_connection": original_create_connection,
            "getaddrinfo": original_getaddrinfo,
        }

        def allowed(sock: socket.socket, address: object) -> bool:
            if getattr(socket, "AF_UNIX", None) is not None and sock.family == socket.AF_UNIX:
                return True
            return isinstance(address, tuple) and is_local(address[0])

        def connect(sock, address):
            if not allowed(sock, address):
                guard._refuse(address)
            return original_connect(sock, address)

        def connect_ex(sock, address):
            if not allowed(sock, address):
                guard._refuse(address)
            return original_connect_ex(sock, address)

        def create_connection(address, *args, **kwargs):
            if not is_local(address[0]):
                guard._refuse(address)
            return original_create_connection(address, *args, **kwargs)

        def getaddrinfo(host, port, *args, **kwargs):
            if not is_local(host):
                guard._refuse((host, port))
            return original_getaddrinfo(host, port, *args, **kwargs)

        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        socket.create_connection = create_connection  # type: ignore[assignment]
        socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
        return self

    def __exit__(self, *exc_info: object) -> None:
        socket.socket.connect = self._saved["connect"]  # type: ignore[method-assign]
        socket.socket.connect_ex = self._saved["connect_ex"]  # type: ignore[method-assign]
        socket.create_connection = self._saved["create_connection"]  # type: ignore[assignment]
        socket.getaddrinfo = self._saved["getaddrinfo"]  # type: ignore[assignment]

    def first_attempt(self) -> Attempt | None:
        with self._lock:
            return self.attempts[0] if self.attempts else None
