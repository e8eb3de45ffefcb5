"""
Sockets in a stack's network namespace.

A stack that names a C{Namespace} carries its IKE traffic there, while
iked itself (and its NSS connections) stays in its own namespace.  Linux
binds a socket to the namespace of the thread that creates it, so iked
creates each IKE socket on a short-lived thread that first enters the
stack's namespace (setns(2) on C{/run/netns/NAME}); the reactor thread
never changes namespace.  The socket keeps its namespace for its whole
life, and Twisted adopts it like any other.

Python 3.11 has no C{os.setns}, so the call goes through ctypes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
import threading

__all__ = ["RECEIVE_BUFFER", "NamespaceError", "udp_socket"]

RECEIVE_BUFFER = 4 * 1024 * 1024
"""
The receive buffer asked for each IKE socket (the kernel grants at most
C{net.core.rmem_max}).  Linux's default, about 200 KB, holds some 150
IKE_AUTH requests of 1.4 KB: many peers at once (a gateway's peers after
its restart, a benchmark's concurrent pass) overflow it while the reactor
is busy, and each datagram lost costs its initiator a retransmission
timeout (strongSwan's first is 4 s).
"""

_CLONE_NEWNET = 0x40000000
NETNS_DIRECTORY = "/run/netns"


class NamespaceError(OSError):
    """The namespace cannot be entered (missing, or not permitted)."""


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise NamespaceError(error, os.strerror(error))


def udp_socket(namespace: str | None, address: str, port: int) -> socket.socket:
    """
    A non-blocking UDP socket bound to C{address} and C{port} in
    C{namespace} (L{None}: iked's own).

    @raise NamespaceError: the namespace cannot be entered.
    @raise OSError: the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def make() -> socket.socket:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            sock.bind((address, port))
        except BaseException:
            sock.close()
            raise
        return sock

    if namespace is None:
        return make()
    path = os.path.join(NETNS_DIRECTORY, namespace)
    result: list[socket.socket | BaseException] = []

    def inside() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            result.append(NamespaceError(error.errno, f"{path}: {error.strerror}"))
            return
        try:
            _setns(fd)
            result.append(make())
        except BaseException as error:
            result.append(error)
        finally:
            os.close(fd)

    # The thread ends in the namespace and is discarded: no other code
    # ever runs on it.
    worker = threading.Thread(target=inside, name=f"netns {namespace}")
    worker.start()
    worker.join()
    (outcome,) = result
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome
