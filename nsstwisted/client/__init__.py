"""
The public embedding API of an NSS client: connect to nssd, log on, sign,
verify and list CA certificates.
"""

from nsstwisted.client.api import (
    Credentials,
    NssSession,
    PassTicketCredentials,
    PasswordCredentials,
    connect,
    tls_endpoint,
)
from nsstwisted.client.connection import (
    ClientTimeouts,
    ConnectionClosed,
    NssRequestFailed,
    TlsFailed,
)
from nsstwisted.client.serveridentity import (
    ServerIdentity,
    ServerIdentityMismatch,
)

__all__ = [
    "ClientTimeouts",
    "ConnectionClosed",
    "Credentials",
    "NssRequestFailed",
    "NssSession",
    "PassTicketCredentials",
    "PasswordCredentials",
    "ServerIdentity",
    "ServerIdentityMismatch",
    "TlsFailed",
    "connect",
    "tls_endpoint",
]
