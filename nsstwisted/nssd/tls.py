"""
nssd's TLS server context: TLS 1.2 or later, AEAD cipher suites only, and the
server certificate and key taken from the key ring.

The key goes from the security database straight into OpenSSL's context (see
L{KeyRingStore.install_tls_identity}); nothing here holds it.
"""

from __future__ import annotations

from OpenSSL import SSL
from twisted.internet.interfaces import IOpenSSLContextFactory
from zope.interface import implementer

from nsstwisted.security.keyring import CertificateRecord, KeyRingStore

# TLS 1.2 suites with authenticated encryption and forward secrecy; TLS 1.3
# suites are all AEAD and need no list.
AEAD_CIPHERS = (
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)


def server_context(
    keyrings: KeyRingStore, owner: str, ring: str, label: str | None
) -> tuple[SSL.Context, CertificateRecord]:
    """
    Build the server context for the ring's certificate C{label} (or its
    DEFAULT certificate) and say which certificate it presents.
    """
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.set_cipher_list(AEAD_CIPHERS.encode("ascii"))
    context.set_options(
        SSL.OP_NO_COMPRESSION
        | SSL.OP_CIPHER_SERVER_PREFERENCE
        | SSL.OP_NO_RENEGOTIATION
        | SSL.OP_NO_TICKET
    )
    # OpenSSL frees a connection's 16 KiB read and write buffers while they
    # are empty, as Twisted's own contexts have it do: an idle connection
    # (most of them, and every one that floods us without logging on) then
    # costs little more than its TLS state.
    context.set_mode(SSL.MODE_RELEASE_BUFFERS)
    context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
    record = keyrings.install_tls_identity(owner, ring, label, context)
    return context, record


@implementer(IOpenSSLContextFactory)
class ServerContextFactory:
    """
    The context factory the TLS endpoint asks for each connection.  A
    refresh swaps the context: new connections get the new identity, and
    established ones keep theirs.
    """

    def __init__(self, context: SSL.Context) -> None:
        self._context = context

    def replace(self, context: SSL.Context) -> None:
        self._context = context

    def getContext(self) -> SSL.Context:
        return self._context
