"""
What the engine needs from outside that may take time: a signature made
with a key it never sees (L{ISigner}) and a verdict on the peer's
certificate and signature (L{IPeerVerifier}).

The engine itself never calls these: it asks for them with
L{nsstwisted.ike.events.SignatureNeeded} and
L{nsstwisted.ike.events.PeerCheckNeeded} actions and is told the outcome,
so that it stays free of I/O.  The adapter that drives the engine calls
the providers, which return whatever the adapter can wait on (a Twisted
C{Deferred} in iked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zope.interface import Attribute, Interface

from nsstwisted.ike.auth import SignatureScheme
from nsstwisted.ike.constants import AuthMethod
from nsstwisted.ike.policy import PeerEku

__all__ = ["IPeerVerifier", "ISigner", "Signed"]


@dataclass(frozen=True)
class Signed:
    """
    A signature over an IKE AUTH octet string, and how it was made.

    @ivar certificates: DER certificates, the signer's own first, then the
        CA certificates that issued it, each the issuer of the one before
        (L{nsstwisted.ike.certpath.issuers_of}), a root included if the
        signer has it.  The engine sends the first and the intermediates
        the peer needs (L{nsstwisted.ike.certpath.chain_to_send}).
    """

    method: AuthMethod
    scheme: SignatureScheme
    signature: bytes
    certificates: tuple[bytes, ...]


class ISigner(Interface):
    """
    Makes this side's AUTH signatures.  An NSS signer sends nssd the
    digest of the octets, never asks for the key; a local signer uses a
    key ring on this host.
    """

    description = Attribute("A short text for logs: where the key lives.")

    def sign(octets: bytes, peerHashes: frozenset[int] | None) -> Any:
        """
        Sign C{octets} with a scheme the peer accepts (C{peerHashes} is
        its SIGNATURE_HASH_ALGORITHMS, L{None} if it sent none).

        @return: something the adapter waits on that gives a L{Signed}.
        """


class IPeerVerifier(Interface):
    """Decides whether the peer's certificate and AUTH signature hold."""

    description = Attribute("A short text for logs: who verifies.")

    def verify(
        certificates: tuple[bytes, ...],
        scheme: SignatureScheme,
        octets: bytes,
        signature: bytes,
        eku: PeerEku,
    ) -> Any:
        """
        Check that C{certificates[0]} validates to a trusted CA (through
        the rest as intermediates), that it fits the IKE end-entity profile
        (L{nsstwisted.ike.certprofile}) with the extended key usages C{eku}
        allows (the peer's policy says which), and that C{signature} over
        C{octets} verifies with its key under C{scheme}.

        @return: something the adapter waits on that fails if either does
            not hold.
        """

    def authorities() -> Any:
        """
        The SHA-1 hashes of the trusted CAs' SubjectPublicKeyInfo, for
        CERTREQ.

        @return: something the adapter waits on that gives a tuple of
            20-octet hashes.
        """
