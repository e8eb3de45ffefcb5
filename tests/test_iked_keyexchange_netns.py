"""
IKE sockets in a stack's network namespace.
"""

from __future__ import annotations

import errno
import os
import socket

from twisted.trial.unittest import SynchronousTestCase

from nsstwisted.iked.keyexchange.netns import (
    RECEIVE_BUFFER,
    NamespaceError,
    udp_socket,
)
from tests.strongswan import NetworkNamespace


class UdpSocketTests(SynchronousTestCase):
    def test_missing_namespace(self) -> None:
        with self.assertRaises(NamespaceError) as caught:
            udp_socket("nsst-no-such-namespace", "127.0.0.1", 0)
        self.assertEqual(caught.exception.errno, errno.ENOENT)

    def test_own_namespace(self) -> None:
        sock = udp_socket(None, "127.0.0.1", 0)
        self.addCleanup(sock.close)
        self.assertEqual(sock.getsockname()[0], "127.0.0.1")

    def test_receive_buffer(self) -> None:
        """
        The socket asks for a receive buffer of L{RECEIVE_BUFFER}, which
        the kernel grants up to C{net.core.rmem_max} (and doubles, for its
        own bookkeeping), so that a burst of IKE_AUTH requests is not lost.
        """
        with open("/proc/sys/net/core/rmem_max") as f:
            granted = min(RECEIVE_BUFFER, int(f.read()))
        sock = udp_socket(None, "127.0.0.1", 0)
        self.addCleanup(sock.close)
        self.assertEqual(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF), 2 * granted
        )

    def test_in_namespace(self) -> None:
        """
        An address that exists only in the namespace can be bound there,
        and the calling thread stays in its own namespace.
        """
        if os.getuid() != 0:
            raise self.skipTest("network namespaces need root")
        namespace = NetworkNamespace("netns", addresses=("10.77.9.1/24",))
        self.addCleanup(namespace.delete)
        before = os.readlink("/proc/thread-self/ns/net")
        sock = udp_socket(namespace.name, "10.77.9.1", 0)
        self.addCleanup(sock.close)
        self.assertEqual(sock.getsockname()[0], "10.77.9.1")
        self.assertEqual(os.readlink("/proc/thread-self/ns/net"), before)
        with self.assertRaises(OSError) as caught:
            udp_socket(None, "10.77.9.1", 0)
        self.assertEqual(caught.exception.errno, errno.EADDRNOTAVAIL)
