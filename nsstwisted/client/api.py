"""
The public embedding API: connect to nssd, log on, and ask for signatures,
verifications and CA certificates.

    session = await Deferred.fromCoroutine(connect(
        reactor, endpoint, clientName="SYS1_TCPIP",
        credentials=PasswordCredentials("CLIENT1", password),
        services=Services.CERT))
    reply = await session.sign(label="Client1 cert", data=b"...",
                               scheme=SignatureSchemeCode.RSA_PKCS1_SHA256)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import wrapClientTLS
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from twisted.internet.ssl import (
    Certificate,
    TLSVersion,
    optionsForClientTLS,
    trustRootFromCertificates,
)

from nsstwisted.client.connection import (
    DEFAULT_TIMEOUTS,
    ClientTimeouts,
    ConnectionClosed,
    NetMgmtHandler,
    NssClientConnection,
    NssRequestFailed,
    TlsFailed,
)
from nsstwisted.protocols.nss import NssFactory, NssProtocol
from nsstwisted.wire.nss import (
    NSS_API_VERSION,
    CaListReply,
    CaListRequest,
    Identity,
    LogonReply,
    LogonRequest,
    Services,
    SignatureSchemeCode,
    SignReply,
    SignRequest,
    VerifyRequest,
)


@dataclass(frozen=True)
class PasswordCredentials:
    userid: str
    password: str

    def __repr__(self) -> str:
        return f"PasswordCredentials({self.userid!r}, password=<hidden>)"


@dataclass(frozen=True)
class PassTicketCredentials:
    """
    @ivar ticketSource: makes a fresh PassTicket for each logon (for
        application NSSD), so that no ticket is ever reused.
    """

    userid: str
    ticketSource: Callable[[], str]


Credentials = PasswordCredentials | PassTicketCredentials


def tls_endpoint(
    endpoint: IStreamClientEndpoint,
    serverName: str,
    caCertificates: Sequence[bytes],
) -> IStreamClientEndpoint:
    """
    Wrap a TCP endpoint in TLS that trusts only C{caCertificates} (PEM) and
    checks with service_identity that the server is C{serverName} (a DNS
    name or an IP address).
    """
    roots = [Certificate.loadPEM(pem) for pem in caCertificates]
    options = optionsForClientTLS(
        serverName,
        trustRoot=trustRootFromCertificates(roots),
        extraCertificateOptions={"raiseMinimumTo": TLSVersion.TLSv1_2},
    )
    return wrapClientTLS(options, endpoint)


class NssSession:
    """
    A logged-on connection to nssd.

    @ivar reply: the server's logon reply: the services granted, the API
        version and the server's system name.
    """

    def __init__(self, connection: NssClientConnection, reply: LogonReply) -> None:
        self._connection = connection
        self.reply = reply

    @property
    def servicesGranted(self) -> Services:
        return self.reply.servicesGranted

    def sign(
        self,
        *,
        scheme: SignatureSchemeCode,
        label: str | None = None,
        identity: Identity | None = None,
        digest: bytes | None = None,
        data: bytes | None = None,
    ) -> Deferred[SignReply]:
        """
        Have nssd sign C{digest} (or C{data}) with the certificate named by
        C{label} or C{identity}.
        """
        request = SignRequest(
            label=label, identity=identity, scheme=scheme, digest=digest, data=data
        )
        return self._connection.request(request).addCallback(lambda f: f.message)

    def verify(
        self,
        *,
        certificate: bytes,
        signature: bytes,
        scheme: SignatureSchemeCode,
        chain: Sequence[bytes] = (),
        digest: bytes | None = None,
        data: bytes | None = None,
    ) -> Deferred[None]:
        """
        Have nssd validate C{certificate} (DER) and check C{signature}; the
        Deferred fails with L{NssRequestFailed} if either does not hold.
        """
        request = VerifyRequest(
            certificate=certificate,
            chain=tuple(chain),
            scheme=scheme,
            digest=digest,
            data=data,
            signature=signature,
        )
        return self._connection.request(request).addCallback(lambda f: None)

    def caCertificates(self) -> Deferred[list[x509.Certificate]]:
        """
        The CA certificates this client may use, for IKE CERTREQ.
        """

        def certificates(frame: Any) -> list[x509.Certificate]:
            reply: CaListReply = frame.message
            return [x509.load_der_x509_certificate(der) for der in reply.certificates]

        return self._connection.request(CaListRequest()).addCallback(certificates)

    def whenClosed(self) -> Deferred[str]:
        return self._connection.whenClosed()

    def addresses(self) -> tuple[tuple[str, int], tuple[str, int]]:
        """
        The local and the server's address and port, for displays.
        """
        return self._connection.addresses()

    def lastMessageAt(self) -> float:
        """
        When the last message went to the server (seconds since the epoch).
        """
        return self._connection.lastSentAt

    def close(self) -> Deferred[str]:
        return self._connection.close()


async def connect(
    reactor: IReactorTime,
    endpoint: IStreamClientEndpoint,
    *,
    clientName: str,
    credentials: Credentials,
    services: Services,
    timeouts: ClientTimeouts = DEFAULT_TIMEOUTS,
    netMgmt: NetMgmtHandler | None = None,
    peerCheck: Callable[[x509.Certificate], None] | None = None,
    systemName: str | None = None,
    stackName: str | None = None,
) -> NssSession:
    """
    Connect through C{endpoint} (TLS: see L{tls_endpoint}), log on, and start
    heartbeats.

    @param peerCheck: called with the server's certificate once TLS is up, for
        identity checks that service_identity does not make (an X.500 name);
        whatever it raises fails the connection as not secure.
    @raise TlsFailed: the connection could not be secured.
    @raise NssRequestFailed: the logon was refused; its codes say why.
    """
    connections: list[NssClientConnection] = []

    def handler(protocol: NssProtocol) -> NssClientConnection:
        connection = NssClientConnection(protocol, reactor, timeouts, netMgmt)
        connections.append(connection)
        return connection

    protocol: Any = await endpoint.connect(NssFactory(handler, reactor))
    connection = connections[0]
    try:
        await connection.whenSecured()
    except ConnectionClosed as e:
        raise TlsFailed(e.text) from None
    except BaseException:
        # Cancelled (the caller's time limit) while the handshake hung.
        connection.abandon()
        raise
    if peerCheck is not None:
        try:
            peerCheck(x509.load_der_x509_certificate(_peer_certificate(protocol)))
        except Exception as e:
            connection.abandon()
            raise TlsFailed(str(e)) from None
    if isinstance(credentials, PasswordCredentials):
        password, ticket = credentials.password, None
    else:
        password, ticket = None, credentials.ticketSource()
    try:
        frame = await connection.request(
            LogonRequest(
                clientName=clientName,
                userid=credentials.userid,
                password=password,
                passTicket=ticket,
                apiVersion=NSS_API_VERSION,
                services=services,
                systemName=systemName,
                stackName=stackName,
            )
        )
    except BaseException:
        connection.abandon()
        raise
    connection.setupComplete()
    connection.startHeartbeats()
    assert isinstance(frame.message, LogonReply)
    return NssSession(connection, frame.message)


def _peer_certificate(protocol: Any) -> bytes:
    from OpenSSL import crypto

    certificate = protocol.transport.getPeerCertificate()
    if certificate is None:
        raise TlsFailed("the server presented no certificate")
    return bytes(crypto.dump_certificate(crypto.FILETYPE_ASN1, certificate))


__all__ = [
    "ClientTimeouts",
    "Credentials",
    "NssRequestFailed",
    "NssSession",
    "PassTicketCredentials",
    "PasswordCredentials",
    "connect",
    "tls_endpoint",
]
