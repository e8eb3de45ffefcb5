"""
The registry of logged-on NSS clients, by client name.

A client name is held by one connection at a time.  A new logon under a name
that is already held replaces the holder: a client that lost its connection
without the server noticing (a half-open TCP connection) must be able to come
back at once, and the newcomer has just proved its credentials while the old
connection has proved nothing for a while.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class RegisteredClient(Protocol):
    """
    What the registry needs of a session.
    """

    clientName: str
    connId: int
    userid: str
    #: Where the connection comes from, as the log shows it.
    peer: str
    #: When the logon built the session's security environment, by
    #: C{time.monotonic}.
    environmentAt: float

    def replace(self, newConnId: int, peer: str) -> None:
        """
        Give up the client name to a newer logon (from C{peer}) and close.
        """

    def revoke(self) -> None:
        """
        End the session: its user was revoked.
        """

    def undefine(self) -> None:
        """
        End the session: its user was deleted.
        """


class ClientRegistry:
    def __init__(self) -> None:
        self._clients: dict[str, RegisteredClient] = {}

    @staticmethod
    def key(clientName: str) -> str:
        # Client names reach SERVAUTH profile names, which are upper case, so
        # two spellings of one name are one client.
        return clientName.upper()

    def register(self, client: RegisteredClient) -> RegisteredClient | None:
        """
        Register C{client}; return the client it replaced, already told.
        """
        key = self.key(client.clientName)
        previous = self._clients.get(key)
        self._clients[key] = client
        if previous is not None and previous is not client:
            previous.replace(client.connId, client.peer)
            return previous
        return None

    def unregister(self, client: RegisteredClient) -> None:
        """
        Forget C{client}, unless its name already belongs to a newer logon.
        """
        key = self.key(client.clientName)
        if self._clients.get(key) is client:
            del self._clients[key]

    def get(self, clientName: str) -> RegisteredClient | None:
        return self._clients.get(self.key(clientName))

    def __iter__(self) -> Iterator[RegisteredClient]:
        return iter(sorted(self._clients.values(), key=lambda c: c.clientName))

    def __len__(self) -> int:
        return len(self._clients)
