"""
The public embedding API: connect to nssd, log on, and ask for signatures,
verifications and CA certificates.

    session = await Deferred.fromCoroutine(connect(
        reactor, tls_endpoint(tcpEndpoint, [caPem]),
        serverIdentity=ServerIdentity.of_host("nss.example"),
        clientName="SYS1_TCPIP",
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
from OpenSSL import SSL
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import wrapClientTLS
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.internet.ssl import (
    Certificate,
    CertificateOptions,
    TLSVersion,
    trustRootFromCertificates,
)
from zope.interface import implementer

from nsstwisted.client.connection import (
    DEFAULT_TIMEOUTS,
    ClientTimeouts,
    ConnectionClosed,
    NetMgmtHandler,
    NssClientConnection,
    NssRequestFailed,
    TlsFailed,
)
from nsstwisted.client.handshake import RecordingConnection, describe_handshake_failure
from nsstwisted.client.serveridentity import ServerIdentity
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
    caCertificates: Sequence[bytes],
    serverName: str | None = None,
    caSource: str | None = None,
) -> IStreamClientEndpoint:
    """
    Wrap a TCP endpoint in TLS (1.2 or later) that trusts only
    C{caCertificates} (PEM) to vouch for the server.

    Whose certificate it is, is checked by L{connect} against the
    L{ServerIdentity} it is given, before the logon is sent: the chain alone
    proves only that the trusted CA issued it.

    @param serverName: the DNS name to send as SNI, when the server is
        reached by name (an address is never sent, as RFC 6066 says).
    @param caSource: where C{caCertificates} came from (a file name), for
        the sentence L{TlsFailed} carries when the server's certificate is
        not signed by any of them.
    """
    roots = [Certificate.loadPEM(pem) for pem in caCertificates]
    if not roots:
        raise ValueError("TLS to nssd needs at least one trusted CA certificate")
    options = CertificateOptions(
        trustRoot=trustRootFromCertificates(roots),
        raiseMinimumTo=TLSVersion.TLSv1_2,
    )
    return wrapClientTLS(_ChainVerified(options, serverName, caSource), endpoint)


@implementer(IOpenSSLClientConnectionCreator)
class _ChainVerified:
    """
    TLS connections whose server chain OpenSSL verifies against the trusted
    CAs (a failure ends the handshake), with SNI; the name check is
    L{connect}'s, made in our own code, not in a verify callback.
    """

    def __init__(
        self,
        options: CertificateOptions,
        serverName: str | None,
        caSource: str | None,
    ) -> None:
        self._options = options
        self._caSource = caSource
        self._sni: bytes | None = None
        if serverName and ServerIdentity.of_host(serverName).kind == "Fqdn":
            self._sni = serverName.encode("idna")

    def clientConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        connection = RecordingConnection(self._options.getContext(), self._caSource)
        connection.set_app_data(tlsProtocol)
        if self._sni is not None:
            connection.set_tlsext_host_name(self._sni)
        return connection


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
    serverIdentity: ServerIdentity,
    netMgmt: NetMgmtHandler | None = None,
    systemName: str | None = None,
    stackName: str | None = None,
) -> NssSession:
    """
    Connect through C{endpoint} (TLS: see L{tls_endpoint}), log on, and start
    heartbeats.

    @param serverIdentity: what the server's certificate must prove (see
        L{ServerIdentity}); it is checked once TLS is up and before the
        logon's first byte, and anything that goes wrong in the check fails
        the connection as not secure.
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
    except ConnectionClosed:
        reason = protocol.lostReason
        raise TlsFailed(
            describe_handshake_failure(
                _tls_connection(protocol), reason.value if reason else None
            )
        ) from None
    except BaseException:
        # Cancelled (the caller's time limit) while the handshake hung.
        connection.abandon()
        raise
    try:
        serverIdentity.check(
            x509.load_der_x509_certificate(_peer_certificate(protocol))
        )
    except Exception as e:
        # Fail closed: whatever the check raised, nothing more is said on
        # this connection, least of all the credentials.
        connection.abandon()
        raise TlsFailed(str(e) or type(e).__name__) from None
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
    assert isinstance(frame.message, LogonReply)
    connection.loggedOn(services & frame.message.servicesGranted)
    connection.setupComplete()
    connection.startHeartbeats()
    return NssSession(connection, frame.message)


def _tls_connection(protocol: Any) -> object | None:
    """
    The TLS object under C{protocol}, if its transport is TLS.
    """
    getHandle = getattr(protocol.transport, "getHandle", None)
    return getHandle() if callable(getHandle) else None


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
    "ServerIdentity",
    "connect",
    "tls_endpoint",
]
