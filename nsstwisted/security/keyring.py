"""
Digital certificates and key rings, with private keys sealed at rest.

A certificate belongs to an owner: a user (C{ID(user)}), C{CERTAUTH} (the
certificate authorities) or C{SITE}.  Labels are unique per owner, and their
mapped SERVAUTH names (L{map_label}) across the whole database.  A key ring
belongs to a user and lists certificates of any owner, each with a usage.

Private keys are stored only as AES-GCM blobs sealed under the master key and
bound to the certificate's fingerprint, so a blob copied onto another row fails
to open; or they live in a PKCS#11 token, and the row records only where (an
RFC 7512 URI: the token, the key object's label and id), never the key.  No
method returns a key: L{KeyRingStore.sign} is the only use.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from nsstwisted.security.certfiles import (
    LoadedCertificate,
    PrivateKey,
    check_key_policy,
)
from nsstwisted.security.certgen import (
    build_certificate,
    generate_private_key,
    generate_size,
)
from nsstwisted.security.database import SecurityDatabase
from nsstwisted.security.errors import (
    AlreadyExistsError,
    InvalidValueError,
    LabelCollisionError,
    NotFoundError,
    SecurityError,
    SecurityRequestError,
    TamperedEntryError,
    TokenKeyError,
    TokenUnavailableError,
)
from nsstwisted.security.keystores import NoTokenKeys, TokenKeys
from nsstwisted.security.labels import MAX_LABEL_LENGTH, colliding_labels, map_label
from nsstwisted.security.signing import SignatureScheme, scheme_for_key, sign
from nsstwisted.security.stash import MasterKey
from nsstwisted.security.storage import Cursor
from nsstwisted.security.tokenkeys import TokenKey, is_token_key
from nsstwisted.security.tokenreference import TokenKeyReference
from nsstwisted.security.users import normalize_id, require_user

MAX_RING_NAME_LENGTH = 237
DEFAULT_VALIDITY = timedelta(days=365)
_KEY_CACHE_SIZE = 64


class KeyGenerator(Protocol):
    """
    What makes a key pair inside a token (a L{Pkcs11Token
    <nsstwisted.security.pkcs11token.Pkcs11Token>}), as GENCERT needs it.
    """

    label: str

    def generate_key_pair(self, algorithm: str, size: int, objectLabel: str) -> Any:
        """
        A new key pair in the token: its private key as a token key.
        """

    def destroy_key(self, reference: TokenKeyReference) -> None:
        """
        Destroy a key pair made for a certificate that was not stored.
        """

    def find_key(self, public: Any) -> tuple[Any, ...]:
        """
        The keys in the token whose public key is C{public}, as
        L{TokenKeyInfo <nsstwisted.security.tokenobjects.TokenKeyInfo>}s.
        """


class TlsContext(Protocol):
    """
    The part of a pyOpenSSL C{Context} that takes an identity; named here so
    that this package needs no pyOpenSSL import.
    """

    def use_certificate(self, cert: x509.Certificate) -> None: ...

    def use_privatekey(self, pkey: Any) -> None: ...

    def add_extra_chain_cert(self, certobj: x509.Certificate) -> None: ...

    def check_privatekey(self) -> None: ...


class CertificateUsage(enum.Enum):
    """
    How a certificate serves in a key ring.
    """

    PERSONAL = "PERSONAL"
    SITE = "SITE"
    CERTAUTH = "CERTAUTH"

    @classmethod
    def parse(cls, value: str) -> CertificateUsage:
        try:
            return cls(value.upper())
        except ValueError:
            raise InvalidValueError(
                f"usage {value!r} is not PERSONAL, SITE or CERTAUTH"
            ) from None


@dataclass(frozen=True)
class CertificateOwner:
    """
    Who a certificate belongs to: C{ID(user)}, C{CERTAUTH} or C{SITE}.
    """

    userid: str | None = None
    certauth: bool = False

    @classmethod
    def user(cls, userid: str) -> CertificateOwner:
        return cls(userid=normalize_id(userid))

    @classmethod
    def authority(cls) -> CertificateOwner:
        return cls(certauth=True)

    @classmethod
    def site(cls) -> CertificateOwner:
        return cls()

    @property
    def key(self) -> str:
        """
        The owner as stored; the asterisks keep it apart from any user ID.
        """
        if self.userid is not None:
            return self.userid
        return "*CERTAUTH*" if self.certauth else "*SITE*"

    @classmethod
    def from_key(cls, key: str) -> CertificateOwner:
        if key == "*CERTAUTH*":
            return cls.authority()
        if key == "*SITE*":
            return cls.site()
        return cls(userid=key)

    @property
    def default_usage(self) -> CertificateUsage:
        if self.userid is not None:
            return CertificateUsage.PERSONAL
        return CertificateUsage.CERTAUTH if self.certauth else CertificateUsage.SITE

    def __str__(self) -> str:
        if self.userid is not None:
            return f"ID({self.userid})"
        return "CERTAUTH" if self.certauth else "SITE"


@dataclass(frozen=True)
class CertificateRecord:
    """
    A certificate in the database, public parts only.
    """

    owner: CertificateOwner
    label: str
    trusted: bool
    hasPrivateKey: bool
    der: bytes
    tokenKeyUri: str | None = None

    # Cached: a record in a server's ring snapshot is asked for these on
    # every request, and the DER never changes.
    @functools.cached_property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)

    @functools.cached_property
    def digest(self) -> bytes:
        """
        The SHA-256 of the DER: the certificate's identity in the database.
        """
        return hashlib.sha256(self.der).digest()

    @property
    def fingerprint(self) -> str:
        return self.digest.hex()

    @functools.cached_property
    def tokenKey(self) -> TokenKeyReference | None:
        """
        Where the private key lives if a PKCS#11 token holds it, or C{None}
        (no key, or one sealed in the database).

        @raise InvalidValueError: the row's reference cannot be read.
        """
        if self.tokenKeyUri is None:
            return None
        return TokenKeyReference.parse(self.tokenKeyUri)


@dataclass(frozen=True)
class RingEntry:
    """
    A certificate connected to a key ring.
    """

    record: CertificateRecord
    usage: CertificateUsage
    isDefault: bool


@dataclass(frozen=True)
class KeyRing:
    """
    A key ring and its certificates, read in one go.
    """

    owner: str
    name: str
    entries: tuple[RingEntry, ...]

    @functools.cached_property
    def label_collisions(self) -> Mapping[str, tuple[str, ...]]:
        """
        The mapped label names (L{map_label}) that more than one entry of
        this ring has, each with those entries' labels.

        RACDCERT refuses such labels, but a database written before it did
        may hold them; one SERVAUTH profile would govern both certificates,
        so a server uses neither.
        """
        return colliding_labels(e.record.label for e in self.entries)

    def entry(self, label: str) -> RingEntry:
        for entry in self.entries:
            if entry.record.label == label:
                return entry
        raise NotFoundError(f"no certificate labelled {label!r} in ring {self}")

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}"


def parse_ring_name(value: str) -> tuple[str, str]:
    """
    Split C{owner/ring} (the seed's C{nssd/keyring}) into an upper-case user
    ID and ring name.

    Ring names are treated case-insensitively here, unlike RACF, so that the
    seed's C{nssd/keyring} and C{NSSD/KEYRING} name one ring.
    """
    owner, slash, ring = value.partition("/")
    if not slash:
        raise InvalidValueError(f"key ring {value!r} must be written owner/ring")
    return normalize_id(owner, "key ring owner"), normalize_ring(ring)


def normalize_ring(ring: str) -> str:
    upper = ring.upper()
    if not upper or len(upper) > MAX_RING_NAME_LENGTH:
        raise InvalidValueError(
            f"a ring name must be 1 to {MAX_RING_NAME_LENGTH} characters"
        )
    if any(c.isspace() or not c.isprintable() or c in "/(),'" for c in upper):
        raise InvalidValueError(f"ring name {ring!r} holds a character RACF refuses")
    return upper


def check_label(label: str) -> str:
    """
    Labels are kept exactly as written (they are case sensitive, as in
    RACF), up to 32 printable characters; what they map to in profile names
    is L{map_label}'s business, and whether that clashes is checked when the
    label is stored.
    """
    if not label or len(label) > MAX_LABEL_LENGTH:
        raise InvalidValueError(
            f"a certificate label must be 1 to {MAX_LABEL_LENGTH} characters"
        )
    if any(not c.isprintable() for c in label):
        raise InvalidValueError("a certificate label must not hold control characters")
    return label


_RING_QUERY = (
    "SELECT c.id, c.owner, c.label, c.trusted, c.sealed_key IS NOT NULL, c.der, "
    "c.token_key, m.usage, m.is_default FROM ring_members m JOIN certificates c "
    "ON c.id = m.certificate_id WHERE m.owner = ? AND m.ring = ?"
)


def _ring_entry(row: tuple[Any, ...]) -> RingEntry:
    return RingEntry(_record(row[:7]), CertificateUsage(row[7]), bool(row[8]))


def private_key_aad(der: bytes) -> bytes:
    """
    What a private key's seal is bound to: its certificate, so that a sealed
    key moved to another certificate's row does not unseal there.
    """
    return b"nsstwisted private key\x00" + hashlib.sha256(der).digest()


_CERT_COLUMNS = "id, owner, label, trusted, sealed_key IS NOT NULL, der, token_key"


def _record(row: tuple[Any, ...]) -> CertificateRecord:
    tokenKey = None if row[6] is None else str(row[6])
    return CertificateRecord(
        owner=CertificateOwner.from_key(str(row[1])),
        label=str(row[2]),
        trusted=bool(row[3]),
        hasPrivateKey=bool(row[4]) or tokenKey is not None,
        der=bytes(row[5]),
        tokenKeyUri=tokenKey,
    )


class KeyRingStore:
    """
    The certificates and key rings of one security database.
    """

    def __init__(
        self, database: SecurityDatabase, tokens: TokenKeys | None = None
    ) -> None:
        """
        @param tokens: the PKCS#11 tokens this process reaches, which hold
            the keys of the certificates whose rows name a token key; by
            default none.
        """
        self._database = database
        self.tokens: TokenKeys = tokens or NoTokenKeys(
            "this process opens no PKCS#11 token"
        )
        self._keys: OrderedDict[bytes, PrivateKey] = OrderedDict()
        # The keys of a server's own ring, unsealed when it loads the ring
        # (see pin_keys), beside the bounded cache above.
        self._pinned: dict[bytes, PrivateKey] = {}
        self._keysLock = threading.Lock()

    # Certificates

    def add_certificate(
        self,
        owner: CertificateOwner,
        label: str,
        loaded: LoadedCertificate,
        *,
        trusted: bool = True,
    ) -> CertificateRecord:
        """
        Add a certificate, and its private key if the file held one
        (RACDCERT ADD).
        """
        check_label(label)
        check_key_policy(loaded.certificate.public_key())
        der = loaded.certificate.public_bytes(serialization.Encoding.DER)
        sealed = None
        master = None
        if loaded.private_key is not None:
            master = self._database.master_key()
            sealed = self._seal(master, loaded.private_key, der)
        with self._database.transaction() as cursor:
            if master is not None:
                self._database.confirm_master_key(cursor, master)
            self._insert(cursor, owner, label, der, trusted, sealed)
            return self._get(cursor, owner, label)

    def generate_certificate(
        self,
        owner: CertificateOwner,
        label: str,
        subject: x509.Name,
        *,
        algorithm: str = "RSA",
        size: int | None = None,
        signWith: tuple[CertificateOwner, str] | None = None,
        altNames: tuple[tuple[str, str], ...] = (),
        notBefore: datetime | None = None,
        notAfter: datetime | None = None,
        token: KeyGenerator | None = None,
        tokenKeyLabel: str | None = None,
    ) -> CertificateRecord:
        """
        Make a key pair and a certificate for it (RACDCERT GENCERT), signed
        by the certificate C{signWith} names, or self-signed.  CERTAUTH
        certificates are made certificate authorities.

        @param token: make the key pair inside this PKCS#11 token
            (GENCERT's C{RSA(TOKEN(...))}, C{NISTECC(TOKEN(...))}, C{PCICC},
            C{ICSF}), and record where it is; by default it is made here
            and sealed in the database.  A key made for a certificate that
            is then not stored is destroyed again.
        @param tokenKeyLabel: the key object's label in the token; by
            default the certificate's label.
        """
        check_label(label)
        start = notBefore or datetime.now(UTC).replace(microsecond=0)
        end = notAfter or start + DEFAULT_VALIDITY
        if token is None:
            key: PrivateKey = generate_private_key(algorithm, size)
            master: MasterKey | None = self._database.master_key()
        else:
            # Checked before the token is asked, so that a wrong size
            # makes nothing there.
            size = generate_size(algorithm, size)
            master = None
        with self._database.transaction() as cursor:
            if master is not None:
                self._database.confirm_master_key(cursor, master)
            if owner.userid is not None:
                require_user(cursor, owner.userid)
            self._check_new(cursor, owner, label)
            signer = None
            if signWith is not None:
                signer = self._get(cursor, *signWith)
                if not signer.hasPrivateKey:
                    raise InvalidValueError(
                        f"certificate {signer.label!r} of {signer.owner} has no "
                        "private key to sign with"
                    )
            if token is not None:
                assert size is not None
                key = token.generate_key_pair(algorithm, size, tokenKeyLabel or label)
            try:
                if signer is None:
                    issuerCertificate, issuerKey = None, key
                else:
                    issuerCertificate = signer.certificate
                    issuerKey = self._private_key(cursor, signer)
                certificate = build_certificate(
                    subject=subject,
                    public_key=key.public_key(),
                    issuer_certificate=issuerCertificate,
                    issuer_key=issuerKey,
                    not_before=start,
                    not_after=end,
                    certificate_authority=owner.certauth,
                    alt_names=altNames,
                )
                der = certificate.public_bytes(serialization.Encoding.DER)
                if isinstance(key, TokenKey):
                    self._insert(
                        cursor, owner, label, der, True, None, key.reference.uri
                    )
                else:
                    assert master is not None
                    sealed = self._seal(master, key, der)
                    self._insert(cursor, owner, label, der, True, sealed)
                return self._get(cursor, owner, label)
            except BaseException:
                if token is not None and isinstance(key, TokenKey):
                    token.destroy_key(key.reference)
                raise

    def rekey_certificate(
        self,
        owner: CertificateOwner,
        label: str,
        newLabel: str,
        *,
        algorithm: str | None = None,
        size: int | None = None,
        signWith: tuple[CertificateOwner, str] | None = None,
        notBefore: datetime | None = None,
        notAfter: datetime | None = None,
        token: KeyGenerator | None = None,
    ) -> CertificateRecord:
        """
        Make the successor of a certificate with a new key pair (RACDCERT
        REKEY): the same subject and alternative names, a new label; it is
        connected to no ring until L{rollover}, so that the old certificate
        serves on meanwhile.

        RACF makes the successor self-signed, and a CA signs it through
        GENREQ and GENCERT(request); C{signWith} does both at once (the
        certificate a GENCERT SIGNWITH would name), since this database
        never lets a private key out for a request to be carried elsewhere.

        @param algorithm: C{"RSA"} or C{"NISTECC"}; by default the old
            key's kind, and its size unless C{size} is given.
        @param token: make the new key pair inside this PKCS#11 token; an
            old key in a token needs one (its successor's key goes there
            too, not into the database).
        @raise InvalidValueError: the old certificate has no private key, so
            it is not one that signs and has nothing to retire.
        """
        old = self.get_certificate(owner, label)
        if old.tokenKey is not None and token is None:
            raise InvalidValueError(
                f"the private key of certificate {label!r} of {owner} is in "
                f"PKCS#11 token {old.tokenKey.token}: its successor's key is made "
                "in a token too; name one (RSA(TOKEN(name)) or NISTECC(TOKEN(name)))"
            )
        if not old.hasPrivateKey:
            raise InvalidValueError(
                f"certificate {label!r} of {owner} has no private key: only a "
                "certificate that signs is rekeyed"
            )
        public = old.certificate.public_key()
        if algorithm is None:
            algorithm = (
                "NISTECC" if isinstance(public, ec.EllipticCurvePublicKey) else "RSA"
            )
            if size is None:
                size = getattr(public, "key_size", None)
        try:
            names = old.certificate.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value
        except x509.ExtensionNotFound:
            names = x509.SubjectAlternativeName([])
        altNames = (
            *(("IP", str(ip)) for ip in names.get_values_for_type(x509.IPAddress)),
            *(("DOMAIN", name) for name in names.get_values_for_type(x509.DNSName)),
            *(("EMAIL", mail) for mail in names.get_values_for_type(x509.RFC822Name)),
        )
        return self.generate_certificate(
            owner,
            newLabel,
            old.certificate.subject,
            algorithm=algorithm,
            size=size,
            signWith=signWith,
            altNames=altNames,
            notBefore=notBefore,
            notAfter=notAfter,
            token=token,
        )

    def rollover(self, owner: CertificateOwner, label: str, newLabel: str) -> int:
        """
        Retire a certificate for its successor (RACDCERT ROLLOVER), in one
        transaction: the successor takes the old certificate's place (usage
        and default) in every ring the old one is connected to, and the old
        private key is destroyed (a key in a token is forgotten here, and
        stays in its token for its own tools to destroy).  The old
        certificate stays, without its key, so that signatures made with it
        can still be verified.

        @return: how many rings were rolled over.
        @raise InvalidValueError: the successor has no private key, or the
            two are the same certificate.
        """
        with self._database.transaction() as cursor:
            old = self._get(cursor, owner, label)
            new = self._get(cursor, owner, newLabel)
            if old.digest == new.digest:
                raise InvalidValueError("a certificate cannot succeed itself")
            if not new.hasPrivateKey:
                raise InvalidValueError(
                    f"certificate {newLabel!r} of {owner} has no private key: it "
                    "cannot take the place of one that signs"
                )
            oldId = self._certificate_id(cursor, owner, label)
            newId = self._certificate_id(cursor, owner, newLabel)
            memberships = cursor.execute(
                "SELECT owner, ring, usage, is_default FROM ring_members "
                "WHERE certificate_id = ?",
                (oldId,),
            ).fetchall()
            for ringOwner, ring, usage, isDefault in memberships:
                cursor.execute(
                    "DELETE FROM ring_members WHERE owner = ? AND ring = ? "
                    "AND certificate_id IN (?, ?)",
                    (ringOwner, ring, oldId, newId),
                )
                cursor.execute(
                    "INSERT INTO ring_members (owner, ring, certificate_id, "
                    "usage, is_default) VALUES (?, ?, ?, ?, ?)",
                    (ringOwner, ring, newId, usage, isDefault),
                )
            cursor.execute(
                "UPDATE certificates SET sealed_key = NULL, token_key = NULL "
                "WHERE id = ?",
                (oldId,),
            )
        with self._keysLock:
            self._keys.pop(old.digest, None)
        return len(memberships)

    def bind_token_key(
        self, owner: CertificateOwner, label: str, token: KeyGenerator
    ) -> tuple[CertificateRecord, Any]:
        """
        Record that the private key of a certificate already in the
        database is in C{token} (RACDCERT BIND): the key whose public key is
        the certificate's, found in the token.  The certificate must have no
        private key yet (added from a file of the certificate alone), since
        a key sealed here has been outside any token.

        @return: the certificate as stored now, and the key's
            L{TokenKeyInfo <nsstwisted.security.tokenobjects.TokenKeyInfo>}
            (whose flags say whether it is sensitive and unextractable).
        @raise InvalidValueError: the certificate has a private key already.
        @raise TokenKeyError: the token holds no such key, or more than one.
        """
        record = self.get_certificate(owner, label)
        if record.hasPrivateKey:
            where = (
                f"in PKCS#11 token {record.tokenKey.token}"
                if record.tokenKey is not None
                else "sealed in the security database"
            )
            raise InvalidValueError(
                f"certificate {label!r} of {owner} has a private key already, "
                f"{where}: only a certificate without one is bound to a token key"
            )
        found = token.find_key(record.certificate.public_key())
        if not found:
            raise TokenKeyError(
                f"token {token.label} holds no private key whose public key is "
                f"that of certificate {label!r} of {owner}"
            )
        if len(found) > 1:
            raise TokenKeyError(
                f"token {token.label} holds {len(found)} private keys for the "
                f"public key of certificate {label!r} of {owner}: keep one"
            )
        info = found[0]
        with self._database.transaction() as cursor:
            current = self._get(cursor, owner, label)
            if current.hasPrivateKey:
                raise InvalidValueError(
                    f"certificate {label!r} of {owner} has a private key already"
                )
            cursor.execute(
                "UPDATE certificates SET token_key = ? WHERE owner = ? AND label = ?",
                (info.reference.uri, owner.key, label),
            )
            return self._get(cursor, owner, label), info

    def unbind_token_key(
        self, owner: CertificateOwner, label: str, tokenLabel: str
    ) -> CertificateRecord:
        """
        Forget that a certificate's private key is in token C{tokenLabel}
        (RACDCERT UNBIND): the certificate stays, without a private key, and
        the key stays in the token, for the token's own tools to destroy.

        @return: the certificate as it was, with the reference it had.
        @raise InvalidValueError: its key is not in that token.
        """
        with self._database.transaction() as cursor:
            record = self._get(cursor, owner, label)
            if record.tokenKey is None or record.tokenKey.token != tokenLabel:
                raise InvalidValueError(
                    f"the private key of certificate {label!r} of {owner} is not "
                    f"in PKCS#11 token {tokenLabel}"
                )
            cursor.execute(
                "UPDATE certificates SET token_key = NULL WHERE owner = ? "
                "AND label = ?",
                (owner.key, label),
            )
        with self._keysLock:
            self._keys.pop(record.digest, None)
        return record

    def token_certificates(self, tokenLabel: str) -> list[CertificateRecord]:
        """
        The certificates whose private keys are in token C{tokenLabel}
        (RACDCERT LISTTOKEN shows each key's).
        """
        with self._database.reading() as cursor:
            rows = cursor.execute(
                f"SELECT {_CERT_COLUMNS} FROM certificates "  # noqa: S608
                "WHERE token_key IS NOT NULL ORDER BY owner, label"
            ).fetchall()
        records = [_record(row) for row in rows]
        bound = []
        for record in records:
            try:
                reference = record.tokenKey
            except SecurityRequestError:
                continue
            if reference is not None and reference.token == tokenLabel:
                bound.append(record)
        return bound

    def set_trust(self, owner: CertificateOwner, label: str, trusted: bool) -> None:
        with self._database.transaction() as cursor:
            record = self._get(cursor, owner, label)
            cursor.execute(
                "UPDATE certificates SET trusted = ? WHERE owner = ? AND label = ?",
                (int(trusted), record.owner.key, record.label),
            )

    def delete_certificate(self, owner: CertificateOwner, label: str) -> None:
        """
        Delete a certificate; it leaves every ring it was connected to.
        """
        with self._database.transaction() as cursor:
            self._get(cursor, owner, label)
            cursor.execute(
                "DELETE FROM certificates WHERE owner = ? AND label = ?",
                (owner.key, label),
            )

    def get_certificate(self, owner: CertificateOwner, label: str) -> CertificateRecord:
        with self._database.reading() as cursor:
            return self._get(cursor, owner, label)

    def list_certificates(self, owner: CertificateOwner) -> list[CertificateRecord]:
        with self._database.reading() as cursor:
            rows = cursor.execute(
                f"SELECT {_CERT_COLUMNS} FROM certificates WHERE owner = ? "  # noqa: S608
                "ORDER BY label",
                (owner.key,),
            ).fetchall()
        return [_record(row) for row in rows]

    # Key rings

    def add_ring(self, userid: str, ring: str) -> None:
        userid, ring = normalize_id(userid), normalize_ring(ring)
        with self._database.transaction() as cursor:
            require_user(cursor, userid)
            if self._ring_exists(cursor, userid, ring):
                raise AlreadyExistsError(f"key ring {userid}/{ring} already exists")
            cursor.execute(
                "INSERT INTO rings (owner, name) VALUES (?, ?)", (userid, ring)
            )

    def delete_ring(self, userid: str, ring: str) -> None:
        userid, ring = normalize_id(userid), normalize_ring(ring)
        with self._database.transaction() as cursor:
            self._require_ring(cursor, userid, ring)
            cursor.execute(
                "DELETE FROM rings WHERE owner = ? AND name = ?", (userid, ring)
            )

    def connect(
        self,
        userid: str,
        ring: str,
        owner: CertificateOwner,
        label: str,
        *,
        usage: CertificateUsage | None = None,
        default: bool = False,
    ) -> None:
        """
        Connect a certificate to a ring (RACDCERT CONNECT).  A label may
        appear once per ring, so that a ring entry is named by its label
        alone; only a certificate with a private key can be the default.
        """
        userid, ring = normalize_id(userid), normalize_ring(ring)
        usage = usage or owner.default_usage
        with self._database.transaction() as cursor:
            self._require_ring(cursor, userid, ring)
            record = self._get(cursor, owner, label)
            certificateId = self._certificate_id(cursor, owner, label)
            clash = cursor.execute(
                "SELECT c.id FROM ring_members m JOIN certificates c "
                "ON c.id = m.certificate_id WHERE m.owner = ? AND m.ring = ? "
                "AND c.label = ?",
                (userid, ring, label),
            ).fetchone()
            if clash is not None and clash[0] != certificateId:
                raise AlreadyExistsError(
                    f"ring {userid}/{ring} already holds a certificate labelled "
                    f"{label!r}"
                )
            if default:
                if not record.hasPrivateKey:
                    raise InvalidValueError(
                        "only a certificate with a private key can be the default"
                    )
                cursor.execute(
                    "UPDATE ring_members SET is_default = 0 WHERE owner = ? "
                    "AND ring = ?",
                    (userid, ring),
                )
            cursor.execute(
                "INSERT INTO ring_members (owner, ring, certificate_id, usage, "
                "is_default) VALUES (?, ?, ?, ?, ?) ON CONFLICT(owner, ring, "
                "certificate_id) DO UPDATE SET usage = excluded.usage, "
                "is_default = excluded.is_default",
                (userid, ring, certificateId, usage.value, int(default)),
            )

    def remove(
        self, userid: str, ring: str, owner: CertificateOwner, label: str
    ) -> None:
        """
        Take a certificate off a ring (RACDCERT REMOVE); it stays defined.
        """
        userid, ring = normalize_id(userid), normalize_ring(ring)
        with self._database.transaction() as cursor:
            self._require_ring(cursor, userid, ring)
            certificateId = self._certificate_id(cursor, owner, label)
            removed = cursor.execute(
                "DELETE FROM ring_members WHERE owner = ? AND ring = ? "
                "AND certificate_id = ?",
                (userid, ring, certificateId),
            ).rowcount
            if not removed:
                raise NotFoundError(
                    f"certificate {label!r} of {owner} is not on ring {userid}/{ring}"
                )

    def ring(self, userid: str, ring: str) -> KeyRing:
        userid, ring = normalize_id(userid), normalize_ring(ring)
        with self._database.reading() as cursor:
            self._require_ring(cursor, userid, ring)
            rows = cursor.execute(
                _RING_QUERY + " ORDER BY c.label", (userid, ring)
            ).fetchall()
        return KeyRing(userid, ring, tuple(_ring_entry(row) for row in rows))

    def list_rings(self, userid: str) -> list[str]:
        userid = normalize_id(userid)
        with self._database.reading() as cursor:
            return [
                r
                for (r,) in cursor.execute(
                    "SELECT name FROM rings WHERE owner = ? ORDER BY name", (userid,)
                )
            ]

    def sign(
        self,
        userid: str,
        ring: str,
        label: str,
        data: bytes,
        scheme: SignatureScheme | None = None,
        *,
        prehashed: bool = False,
    ) -> bytes:
        """
        Sign C{data} (or, with C{prehashed}, a digest) with the private key of
        the ring's certificate C{label}.

        Only a trusted PERSONAL or SITE certificate signs: a CA certificate on
        the ring is there to be listed, not to act for a client.
        """
        userid, ring = normalize_id(userid), normalize_ring(ring)
        with self._database.reading() as cursor:
            row = cursor.execute(
                _RING_QUERY + " AND c.label = ?", (userid, ring, label)
            ).fetchone()
            if row is None:
                self._require_ring(cursor, userid, ring)
                raise NotFoundError(
                    f"no certificate labelled {label!r} in ring {userid}/{ring}"
                )
            entry = _ring_entry(row)
            self._check_signer(entry)
            source = self._key_source(cursor, entry.record)
        key = (
            self._token_key(source, entry.record)
            if isinstance(source, TokenKeyReference)
            else source
        )
        return sign(key, data, scheme or scheme_for_key(key), prehashed=prehashed)

    def sign_entry(
        self,
        entry: RingEntry,
        data: bytes,
        scheme: SignatureScheme | None = None,
        *,
        prehashed: bool = False,
    ) -> bytes:
        """
        Sign with a ring entry the caller already holds (a server's snapshot
        of its ring), without asking the database again once the key is
        loaded: the hot path of the certificate service.

        The entry is trusted to be what the ring held when it was read; a
        server rereads its ring when it refreshes.
        """
        self._check_signer(entry)
        with self._keysLock:
            digest = entry.record.digest
            key = self._pinned.get(digest) or self._keys.get(digest)
        if key is None:
            with self._database.reading() as cursor:
                source = self._key_source(cursor, entry.record)
            key = (
                self._token_key(source, entry.record)
                if isinstance(source, TokenKeyReference)
                else source
            )
        return sign(key, data, scheme or scheme_for_key(key), prehashed=prehashed)

    def install_tls_identity(
        self, userid: str, ring: str, label: str | None, context: TlsContext
    ) -> CertificateRecord:
        """
        Give a TLS context the server identity of ring C{userid/ring}: the
        certificate C{label}, or the ring's DEFAULT one, its private key, and
        the CA certificates of the ring that issued it.

        This is the one place a private key leaves the store, and it goes
        straight into the TLS library's own key object, never to a caller:
        a TLS server cannot sign its handshake through an interface.

        @raise TokenKeyError: the certificate's key is in a PKCS#11 token:
            pyOpenSSL takes only a key it holds itself (or one an OpenSSL
            engine or provider reaches, which it cannot load), so a token
            key cannot be a TLS server's.
        """
        contents = self.ring(userid, ring)
        candidates = [
            e
            for e in contents.entries
            if (e.record.label == label if label is not None else e.isDefault)
        ]
        if not candidates:
            wanted = f"certificate {label!r}" if label else "DEFAULT certificate"
            raise NotFoundError(f"ring {contents} has no {wanted}")
        entry = candidates[0]
        self._check_signer(entry)
        if entry.record.tokenKey is not None:
            raise TokenKeyError(
                f"the private key of TLS certificate {entry.record.label!r} is in "
                f"PKCS#11 token {entry.record.tokenKey.token}: nssd's TLS (pyOpenSSL) "
                "cannot sign its handshake with a token key; give nssd a TLS "
                "certificate whose key is sealed in the database (TlsKeyRing, "
                "TlsLabel)"
            )
        with self._database.reading() as cursor:
            key = self._private_key(cursor, entry.record)
        certificate = entry.record.certificate
        context.use_certificate(certificate)
        context.use_privatekey(key)
        context.check_privatekey()
        for other in contents.entries:
            if other.usage is CertificateUsage.CERTAUTH and other is not entry:
                authority = other.record.certificate
                if authority.subject == certificate.issuer:
                    context.add_extra_chain_cert(authority)
        return entry.record

    def pin_keys(
        self,
        ring: KeyRing,
        unusable: Callable[[RingEntry, SecurityError], None] | None = None,
    ) -> int:
        """
        Unseal the private keys of C{ring}'s signing certificates now, and
        hold them until the next call: a server signs with them without
        asking the database, so that signing goes on while the database
        cannot be reached.  A key in a PKCS#11 token is found in its token
        and checked (L{TokenKeys.private_key}) now, so that a key that
        cannot sign is reported when the ring loads.  A key that cannot be
        unsealed, or whose token cannot be used, is left out (a signature
        with it is tried again, and fails as it would have), and the other
        keys are held all the same.

        @param unusable: told of each signing certificate whose key is left
            out because of its key (not because it is a CA certificate or
            marked NOTRUST), with the error.
        @return: how many keys are held.
        """
        pinned: dict[bytes, PrivateKey] = {}
        inTokens: list[tuple[RingEntry, TokenKeyReference]] = []
        with self._database.reading() as cursor:
            for entry in ring.entries:
                try:
                    self._check_signer(entry)
                except SecurityRequestError:
                    continue
                try:
                    source = self._key_source(cursor, entry.record)
                except (SecurityRequestError, TamperedEntryError) as e:
                    if unusable is not None:
                        unusable(entry, e)
                    continue
                if isinstance(source, TokenKeyReference):
                    inTokens.append((entry, source))
                else:
                    pinned[entry.record.digest] = source
        for entry, reference in inTokens:
            try:
                pinned[entry.record.digest] = self.tokens.private_key(
                    reference, entry.record.certificate
                )
            except (SecurityRequestError, TokenUnavailableError) as e:
                if unusable is not None:
                    unusable(entry, e)
        with self._keysLock:
            self._pinned = pinned
            # A token key held from before was loaded from the token the
            # process had then, which a refresh may have closed.
            for digest in [d for d, k in self._keys.items() if is_token_key(k)]:
                del self._keys[digest]
        return len(pinned)

    def signs_quickly(self, entry: RingEntry) -> bool:
        """
        Whether C{entry}'s key is held unsealed (L{pin_keys}) and is an
        elliptic-curve key: a signature with it needs no database and
        costs tens of microseconds.  A key in a token never does: its
        signature is a trip to the token.
        """
        with self._keysLock:
            key = self._pinned.get(entry.record.digest)
        return isinstance(key, ec.EllipticCurvePrivateKey) and not is_token_key(key)

    @staticmethod
    def _check_signer(entry: RingEntry) -> None:
        label = entry.record.label
        if entry.usage is CertificateUsage.CERTAUTH:
            raise InvalidValueError(f"certificate {label!r} is a CERTAUTH entry")
        if not entry.record.trusted:
            raise InvalidValueError(f"certificate {label!r} is marked NOTRUST")
        if not entry.record.hasPrivateKey:
            raise InvalidValueError(f"certificate {label!r} has no private key")

    # Internals

    @staticmethod
    def _seal(master: MasterKey, key: PrivateKey, der: bytes) -> bytes:
        plain = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return master.seal(plain, private_key_aad(der))

    def _private_key(self, cursor: Cursor, record: CertificateRecord) -> PrivateKey:
        """
        The private key of C{record}, unsealed with the master key or found
        in its PKCS#11 token (L{tokens}), inside the caller's unit of work.
        """
        key = self._key_source(cursor, record)
        if isinstance(key, TokenKeyReference):
            return self._token_key(key, record)
        return key

    def _token_key(
        self, reference: TokenKeyReference, record: CertificateRecord
    ) -> PrivateKey:
        """
        Ask the token for C{record}'s key (outside any unit of work, where
        the caller can: the token may be slow, and the database's other
        users need not wait for it).
        """
        key = self.tokens.private_key(reference, record.certificate)
        with self._keysLock:
            self._cache(record.digest, key)
        return key

    def _key_source(
        self, cursor: Cursor, record: CertificateRecord
    ) -> PrivateKey | TokenKeyReference:
        """
        C{record}'s private key if it is held or sealed in the database, or
        where in a token it is, to be asked for when the unit of work is
        over.
        """
        fingerprint = record.digest
        with self._keysLock:
            cached = self._keys.get(fingerprint)
            if cached is not None:
                self._keys.move_to_end(fingerprint)
                return cached
        row = cursor.execute(
            "SELECT sealed_key, token_key FROM certificates WHERE fingerprint = ?",
            (fingerprint,),
        ).fetchone()
        if row is not None and row[0] is None and row[1] is not None:
            return TokenKeyReference.parse(str(row[1]))
        if row is None or row[0] is None:
            raise NotFoundError(f"certificate {record.label!r} has no private key")
        master = self._database.master_key()
        plain = master.unseal(row[0], private_key_aad(record.der))
        key = serialization.load_der_private_key(plain, password=None)
        if not isinstance(key, PrivateKey):
            raise TamperedEntryError(
                f"the private key of {record.label!r} is not RSA or ECDSA"
            )
        with self._keysLock:
            self._cache(fingerprint, key)
        return key

    def _cache(self, fingerprint: bytes, key: PrivateKey) -> None:
        """
        Under C{_keysLock}: hold C{key} among the most recently used.
        """
        self._keys[fingerprint] = key
        while len(self._keys) > _KEY_CACHE_SIZE:
            self._keys.popitem(last=False)

    def _insert(
        self,
        cursor: Cursor,
        owner: CertificateOwner,
        label: str,
        der: bytes,
        trusted: bool,
        sealed: bytes | None,
        tokenKey: str | None = None,
    ) -> None:
        self._check_new(cursor, owner, label)
        fingerprint = hashlib.sha256(der).digest()
        existing = cursor.execute(
            "SELECT owner, label FROM certificates WHERE fingerprint = ?",
            (fingerprint,),
        ).fetchone()
        if existing is not None:
            raise AlreadyExistsError(
                "this certificate is already defined as "
                f"{existing[1]!r} of {CertificateOwner.from_key(existing[0])}"
            )
        cursor.execute(
            "INSERT INTO certificates (owner, label, der, fingerprint, trusted, "
            "sealed_key, token_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (owner.key, label, der, fingerprint, int(trusted), sealed, tokenKey),
        )

    def _check_new(self, cursor: Cursor, owner: CertificateOwner, label: str) -> None:
        """
        Refuse a certificate C{owner} cannot have under C{label}: no such
        user, the label taken, or its profile name another's.
        """
        if owner.userid is not None:
            require_user(cursor, owner.userid)
        if cursor.execute(
            "SELECT 1 FROM certificates WHERE owner = ? AND label = ?",
            (owner.key, label),
        ).fetchone():
            raise AlreadyExistsError(f"{owner} already has a certificate {label!r}")
        self._refuse_collision(cursor, label)

    @staticmethod
    def _refuse_collision(cursor: Cursor, label: str) -> None:
        """
        Refuse a label whose SERVAUTH profile name is another certificate's.

        The scope is the whole database, every owner: profile names are
        global to a system, and any certificate can later be connected to
        the ring a server uses, so a collision checked per owner or per ring
        would let CLIENT2's certificate be governed by CLIENT1's profile.
        Labels are few and this runs only when one is created, so they are
        mapped here rather than stored mapped.
        """
        mapped = map_label(label)
        for otherOwner, otherLabel in cursor.execute(
            "SELECT owner, label FROM certificates ORDER BY owner, label"
        ):
            if map_label(otherLabel) == mapped:
                raise LabelCollisionError(
                    f"label {label!r} is {mapped} in SERVAUTH profile names "
                    f"(EZB.NSSCERT.sysname.{mapped}.HOST), as label "
                    f"{otherLabel!r} of {CertificateOwner.from_key(otherOwner)} "
                    "is: one profile would govern both certificates; choose "
                    "another label"
                )

    @staticmethod
    def _get(cursor: Cursor, owner: CertificateOwner, label: str) -> CertificateRecord:
        row = cursor.execute(
            f"SELECT {_CERT_COLUMNS} FROM certificates "  # noqa: S608
            "WHERE owner = ? AND label = ?",
            (owner.key, label),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"{owner} has no certificate labelled {label!r}")
        return _record(row)

    @staticmethod
    def _certificate_id(cursor: Cursor, owner: CertificateOwner, label: str) -> int:
        row = cursor.execute(
            "SELECT id FROM certificates WHERE owner = ? AND label = ?",
            (owner.key, label),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"{owner} has no certificate labelled {label!r}")
        return int(row[0])

    @staticmethod
    def _ring_exists(cursor: Cursor, userid: str, ring: str) -> bool:
        return (
            cursor.execute(
                "SELECT 1 FROM rings WHERE owner = ? AND name = ?", (userid, ring)
            ).fetchone()
            is not None
        )

    def _require_ring(self, cursor: Cursor, userid: str, ring: str) -> None:
        if not self._ring_exists(cursor, userid, ring):
            raise NotFoundError(f"key ring {userid}/{ring} does not exist")
