"""
What to tell an operator when the TLS handshake with nssd fails.

OpenSSL ends a failed handshake with an error such as C{[('SSL routines', '',
'certificate verify failed')]}, which says neither which certificate failed
nor why.  Each client connection therefore records OpenSSL's first verify
error as it happens (the error code, the depth and the certificate), without
changing OpenSSL's verdict, and L{describe_handshake_failure} turns that, or
the error that ended the handshake, into one sentence: not signed by a CA in
the CA file, expired, not yet valid, self-signed.  The translation lives
here, once, so that C{nss-client}, C{nss-ipsec} and iked's EZD1149I all say
the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from OpenSSL import SSL
from OpenSSL.crypto import X509

_V = SSL.X509VerificationCodes

_NOT_SIGNED = {
    _V.ERR_UNABLE_TO_GET_ISSUER_CERT,
    _V.ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
    _V.ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
    _V.ERR_CERT_UNTRUSTED,
}

_CODE_NAMES = {
    value: f"X509_V_{name}"
    for name, value in vars(_V).items()
    if name.startswith("ERR_") and isinstance(value, int)
}


@dataclass(frozen=True)
class ChainRefusal:
    """
    The first error OpenSSL found in the server's chain.

    @ivar code: OpenSSL's C{X509_V_ERR_...} number.
    @ivar depth: where in the chain: 0 is the server's own certificate.
    @ivar certificate: the certificate at that depth.
    """

    code: int
    depth: int
    certificate: x509.Certificate

    def describe(self, caSource: str | None) -> str:
        """
        The refusal in a sentence.

        @param caSource: where the trusted CA certificates came from (a file
            name), to name in the sentence; C{None} if unknown.
        """
        subject = _name(self.certificate.subject)
        trusted = f"in {caSource}" if caSource else "among the trusted CA certificates"
        if self.depth == 0:
            which = f"the server's certificate ({subject})"
        else:
            which = f"the CA certificate {subject} in the server's chain"
        code = self.code
        if code in _NOT_SIGNED:
            issuer = _name(self.certificate.issuer)
            return (
                f"{which} is not signed by a CA certificate {trusted}:"
                f" its issuer is {issuer}"
            )
        if code == _V.ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
            return f"{which} is self-signed, and it is not {trusted}"
        if code == _V.ERR_SELF_SIGNED_CERT_IN_CHAIN:
            return (
                f"the server's certificate is not signed by a CA certificate"
                f" {trusted}: its chain ends in the CA certificate {subject}"
            )
        if code == _V.ERR_CERT_HAS_EXPIRED:
            return f"{which} expired on {_time(self.certificate.not_valid_after_utc)}"
        if code == _V.ERR_CERT_NOT_YET_VALID:
            return (
                f"{which} is not valid before"
                f" {_time(self.certificate.not_valid_before_utc)}"
                " (or the clock of this system is wrong)"
            )
        if code == _V.ERR_CERT_SIGNATURE_FAILURE:
            return f"the signature on {which} does not verify"
        if code == _V.ERR_INVALID_CA:
            return f"{which} signs another certificate of the chain, but is no CA"
        if code == _V.ERR_INVALID_PURPOSE:
            return (
                f"{which} may not be used for a TLS server (its keyUsage or"
                " extendedKeyUsage)"
            )
        if code in (_V.ERR_PATH_LENGTH_EXCEEDED, _V.ERR_CERT_CHAIN_TOO_LONG):
            return "the server's chain is longer than its CA certificates allow"
        if code == _V.ERR_CERT_REVOKED:
            return f"{which} is revoked"
        name = _CODE_NAMES.get(code, "unknown")
        return f"{which} failed OpenSSL's check: error {code} ({name})"


class RecordingConnection(SSL.Connection):
    """
    A client TLS connection that remembers why OpenSSL refused the server's
    chain.

    The verify callback returns OpenSSL's own verdict: it only records, so
    that recording can never let a chain through.

    @ivar refusal: the first verify error, or C{None}.
    @ivar caSource: where the trusted CA certificates came from, for
        L{ChainRefusal.describe}.
    """

    def __init__(self, context: SSL.Context, caSource: str | None) -> None:
        super().__init__(context, None)
        self.refusal: ChainRefusal | None = None
        self.caSource = caSource
        mode = context.get_verify_mode()
        if not mode & SSL.VERIFY_PEER:
            raise ValueError("a connection to nssd must verify the server's chain")
        self.set_verify(mode, self._record)

    def _record(
        self,
        connection: SSL.Connection,
        certificate: X509,
        code: int,
        depth: int,
        ok: int,
    ) -> bool:
        if not ok and self.refusal is None:
            # Only a chain OpenSSL refused is recorded, so that should this
            # raise, pyOpenSSL's answer (refuse) is OpenSSL's anyway.
            self.refusal = ChainRefusal(code, depth, certificate.to_cryptography())
        return bool(ok)


def describe_handshake_failure(tls: object | None, error: BaseException | None) -> str:
    """
    Why the TLS handshake with the server failed, in a sentence.

    @param tls: the connection's TLS object (a L{RecordingConnection} when
        the connection was made by L{nsstwisted.client.tls_endpoint}).
    @param error: what ended the connection.
    """
    if isinstance(tls, RecordingConnection) and tls.refusal is not None:
        return tls.refusal.describe(tls.caSource)
    if isinstance(error, SSL.Error):
        reasons = _openssl_reasons(error)
        text = "; ".join(reasons) or str(error)
        if any("wrong version number" in r or "packet length" in r for r in reasons):
            return (
                "the server does not speak TLS (is it nssd, and is the port"
                f" right?): {text}"
            )
        if any("protocol version" in r for r in reasons):
            return f"the server does not speak TLS 1.2 or 1.3: {text}"
        if any("handshake failure" in r or "no shared cipher" in r for r in reasons):
            return f"the server and this client share no TLS cipher suite: {text}"
        return f"the TLS handshake failed: {text}"
    detail = str(error) if error is not None else "no reason given"
    return f"the server closed the connection during the TLS handshake ({detail})"


def _openssl_reasons(error: SSL.Error) -> list[str]:
    """
    The reason strings of OpenSSL's error queue, as pyOpenSSL gives it:
    a list of (library, function, reason) triples.
    """
    queue = error.args[0] if error.args else None
    if not isinstance(queue, list):
        return []
    return [str(entry[-1]) for entry in queue if isinstance(entry, tuple) and entry]


def _name(name: x509.Name) -> str:
    return name.rfc4514_string() or "an empty name"


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
