"""
Passwords a logon has already verified, so that a reconnecting client does
not pay the password hash again.

A password check costs one scrypt derivation (tens of milliseconds of CPU)
on purpose: it is what makes a stolen database expensive to attack.  A
server whose clients all reconnect at once (a failover, a network outage)
pays it once per client, which is most of the time they wait.  Holding the
proof of a recent success in memory makes that reconnect cost one HMAC.

What is held is not the password but a keyed hash of the user ID, the
stored password hash and the password, under a key made at random when the
process starts and never written anywhere: a memory dump gives an attacker
nothing to try passwords against offline that is cheaper than the scrypt
hashes in the database, and nothing that survives a restart.  Only the
I{right} password of a user who logged on before is fast; a wrong one misses
and pays the full check, so time tells nothing to whoever does not hold the
password.

Because the stored hash is part of what is hashed, a password change (a new
hash with a new salt) makes every older entry miss without anyone telling
the cache; what else must drop entries (revocation, deletion, a refresh)
is the logon's and the server's business (see L{Logon}).
"""

from __future__ import annotations

import hmac
import os
import threading

#: The most users whose passwords are held at once: one entry per user ID,
#: so this bounds the memory (about 200 bytes an entry) whatever clients do.
DEFAULT_LIMIT = 100_000


class VerifiedPasswords:
    """
    One entry per user ID: the keyed hash of its last verified password.
    Safe to use from several threads.
    """

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._key = os.urandom(32)
        self._limit = limit
        self._entries: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def _tag(self, userid: str, stored: str, password: str) -> bytes:
        mac = hmac.new(self._key, digestmod="sha256")
        for part in (userid, stored, password):
            # Length-prefixed, so that no two triples hash alike.
            data = part.encode("utf-8", "surrogatepass")
            mac.update(len(data).to_bytes(4, "big"))
            mac.update(data)
        return mac.digest()

    def holds(self, userid: str, stored: str, password: str) -> bool:
        """
        Whether C{password} is the one last verified for C{userid} against
        the stored hash C{stored}.  The tag is computed and compared in
        constant time whether or not there is an entry.
        """
        tag = self._tag(userid, stored, password)
        entry = self._entries.get(userid, b"")
        return hmac.compare_digest(entry, tag) and bool(entry)

    def remember(self, userid: str, stored: str, password: str) -> None:
        """
        Hold C{password} as verified for C{userid} against C{stored}.  When
        full, the oldest entry makes room: its user pays one full check at
        its next logon, nothing worse.
        """
        tag = self._tag(userid, stored, password)
        with self._lock:
            self._entries.pop(userid, None)
            while len(self._entries) >= self._limit:
                del self._entries[next(iter(self._entries))]
            self._entries[userid] = tag

    def forget(self, userid: str) -> None:
        with self._lock:
            self._entries.pop(userid, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
