"""
The numbers of IKEv2 (RFC 7296 and the IANA "IKEv2 Parameters" registry)
that nsstwisted speaks, as enumerations, so that a log line or a test says
C{ExchangeType.IKE_AUTH} where the wire says 35.

Only the values iked implements or must recognise are named; the codecs
keep any other number as a plain int, since an unknown status notify or
a non-critical payload must be passed over, not refused.
"""

from __future__ import annotations

import enum

__all__ = [
    "IKE_PORT",
    "IKE_VERSION",
    "KEY_LENGTH_ATTRIBUTE",
    "NATT_KEEPALIVE",
    "NATT_PORT",
    "NON_ESP_MARKER",
    "AuthMethod",
    "CertEncoding",
    "DhGroupId",
    "EncrId",
    "EsnId",
    "ExchangeType",
    "HashAlgorithmId",
    "HeaderFlag",
    "IdType",
    "IntegId",
    "NotifyType",
    "PayloadType",
    "PrfId",
    "ProtocolId",
    "TransformType",
    "TsType",
]

IKE_VERSION = 0x20
"""Major version 2, minor 0, as the header's version octet carries it."""

KEY_LENGTH_ATTRIBUTE = 14
"""The Key Length transform attribute (TV form: 0x800E)."""

NON_ESP_MARKER = b"\x00\x00\x00\x00"
"""Four zero octets before IKE on a port that also carries ESP (RFC 3948)."""

NATT_KEEPALIVE = b"\xff"
"""A NAT-T keepalive datagram (RFC 3948 section 2.3): ignored on receipt."""

IKE_PORT = 500
NATT_PORT = 4500


class ExchangeType(enum.IntEnum):
    IKE_SA_INIT = 34
    IKE_AUTH = 35
    CREATE_CHILD_SA = 36
    INFORMATIONAL = 37


class HeaderFlag(enum.IntFlag):
    INITIATOR = 0x08
    VERSION = 0x10
    RESPONSE = 0x20


class PayloadType(enum.IntEnum):
    NONE = 0
    SA = 33
    KE = 34
    IDi = 35
    IDr = 36
    CERT = 37
    CERTREQ = 38
    AUTH = 39
    NONCE = 40
    NOTIFY = 41
    DELETE = 42
    VENDOR_ID = 43
    TSi = 44
    TSr = 45
    SK = 46
    CP = 47
    EAP = 48
    SKF = 53


class ProtocolId(enum.IntEnum):
    NONE = 0
    IKE = 1
    AH = 2
    ESP = 3


class TransformType(enum.IntEnum):
    ENCR = 1
    PRF = 2
    INTEG = 3
    DH = 4
    ESN = 5


class EncrId(enum.IntEnum):
    AES_CBC = 12
    AES_GCM_8 = 18
    AES_GCM_12 = 19
    AES_GCM_16 = 20


class PrfId(enum.IntEnum):
    HMAC_SHA1 = 2
    HMAC_SHA2_256 = 5
    HMAC_SHA2_384 = 6
    HMAC_SHA2_512 = 7


class IntegId(enum.IntEnum):
    NONE = 0
    HMAC_SHA1_96 = 2
    HMAC_SHA2_256_128 = 12
    HMAC_SHA2_384_192 = 13
    HMAC_SHA2_512_256 = 14


class DhGroupId(enum.IntEnum):
    NONE = 0
    MODP_2048 = 14
    MODP_3072 = 15
    ECP_256 = 19
    ECP_384 = 20
    CURVE_25519 = 31


class EsnId(enum.IntEnum):
    NO_ESN = 0
    ESN = 1


class AuthMethod(enum.IntEnum):
    RSA_SIGNATURE = 1
    SHARED_KEY = 2
    ECDSA_SHA256_P256 = 9
    ECDSA_SHA384_P384 = 10
    ECDSA_SHA512_P521 = 11
    DIGITAL_SIGNATURE = 14


class IdType(enum.IntEnum):
    IPV4_ADDR = 1
    FQDN = 2
    RFC822_ADDR = 3
    IPV6_ADDR = 5
    DER_ASN1_DN = 9
    KEY_ID = 11


class CertEncoding(enum.IntEnum):
    X509_SIGNATURE = 4


class TsType(enum.IntEnum):
    IPV4_ADDR_RANGE = 7
    IPV6_ADDR_RANGE = 8


class HashAlgorithmId(enum.IntEnum):
    """RFC 7427 SIGNATURE_HASH_ALGORITHMS values."""

    SHA1 = 1
    SHA2_256 = 2
    SHA2_384 = 3
    SHA2_512 = 4
    IDENTITY = 5


class NotifyType(enum.IntEnum):
    # errors (< 16384)
    UNSUPPORTED_CRITICAL_PAYLOAD = 1
    INVALID_IKE_SPI = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_SYNTAX = 7
    INVALID_MESSAGE_ID = 9
    INVALID_SPI = 11
    NO_PROPOSAL_CHOSEN = 14
    INVALID_KE_PAYLOAD = 17
    AUTHENTICATION_FAILED = 24
    SINGLE_PAIR_REQUIRED = 34
    NO_ADDITIONAL_SAS = 35
    INTERNAL_ADDRESS_FAILURE = 36
    FAILED_CP_REQUIRED = 37
    TS_UNACCEPTABLE = 38
    INVALID_SELECTORS = 39
    TEMPORARY_FAILURE = 43
    CHILD_SA_NOT_FOUND = 44
    # status (>= 16384)
    INITIAL_CONTACT = 16384
    SET_WINDOW_SIZE = 16385
    ADDITIONAL_TS_POSSIBLE = 16386
    IPCOMP_SUPPORTED = 16387
    NAT_DETECTION_SOURCE_IP = 16388
    NAT_DETECTION_DESTINATION_IP = 16389
    COOKIE = 16390
    USE_TRANSPORT_MODE = 16391
    HTTP_CERT_LOOKUP_SUPPORTED = 16392
    REKEY_SA = 16393
    ESP_TFC_PADDING_NOT_SUPPORTED = 16394
    NON_FIRST_FRAGMENTS_ALSO = 16395
    MOBIKE_SUPPORTED = 16396
    AUTH_LIFETIME = 16403
    MULTIPLE_AUTH_SUPPORTED = 16404
    REDIRECT_SUPPORTED = 16406
    EAP_ONLY_AUTHENTICATION = 16417
    CHILDLESS_IKEV2_SUPPORTED = 16418
    IKEV2_MESSAGE_ID_SYNC_SUPPORTED = 16420
    IKEV2_FRAGMENTATION_SUPPORTED = 16430
    SIGNATURE_HASH_ALGORITHMS = 16431

    @property
    def is_error(self) -> bool:
        return self.value < 16384
