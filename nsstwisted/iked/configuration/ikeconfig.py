"""
The C{IkeConfig} statement: the daemon's settings, IBM's defaults for them,
and a check for every keyword, including IBM's keywords that iked accepts
but does not yet use, so that a z/OS iked.conf loads.
"""

from __future__ import annotations

from typing import Any

from nsstwisted.config import Setting, Statement
from nsstwisted.config.values import absolute_path as _path
from nsstwisted.config.values import (
    database_location,
    metrics_listener_value,
    unknown_keyword,
)
from nsstwisted.config.values import label_value as _label
from nsstwisted.config.values import setting_error as _error
from nsstwisted.config.values import single_value as _single
from nsstwisted.config.values import socket_group_value as _socket_group
from nsstwisted.config.values import socket_mode_value as _socket_mode
from nsstwisted.config.values import system_name_value as _system_name
from nsstwisted.ike.fragments import DEFAULT_FRAGMENT_SIZE, MIN_FRAGMENT_SIZE
from nsstwisted.iked.configuration.nssserver import _server
from nsstwisted.iked.configuration.values import (
    _USERID,
    _Check,
    _choice,
    _digits,
    _none,
    _number,
    _statement_error,
    _yes_no,
)

__all__ = [
    "DEFAULT_COOKIE_THRESHOLD",
    "DEFAULT_HALF_OPEN_LIMIT",
    "DEFAULT_IKE_FRAGMENT_SIZE",
    "DEFAULT_IKE_INIT_WAIT",
    "DEFAULT_IKE_RETRIES",
    "DEFAULT_IKE_SYSLOG_LEVEL",
    "DEFAULT_KEY_RING",
    "DEFAULT_NMI_IDLE_TIMEOUT",
    "DEFAULT_NMI_SOCKET",
    "DEFAULT_NSS_WAIT_LIMIT",
    "DEFAULT_NSS_WAIT_RETRIES",
    "DEFAULT_RING_OWNER",
]

DEFAULT_NMI_SOCKET = "/var/sock/ipsecmgmt"
DEFAULT_RING_OWNER = "IKED"
"""
The owner of a ring coded without one (C{KeyRing ringname}): on z/OS the
user ID IKED runs under, here the conventional C{IKED}.
"""
DEFAULT_KEY_RING = (DEFAULT_RING_OWNER, "KEYRING")
"""IBM's default, C{iked/keyring}, upper-cased as every ring name here is."""
DEFAULT_NSS_WAIT_LIMIT = 60
DEFAULT_NSS_WAIT_RETRIES = 3
DEFAULT_IKE_SYSLOG_LEVEL = 1
DEFAULT_IKE_RETRIES = 6
"""IBM's default: how often an unanswered IKE request is sent again."""
DEFAULT_IKE_INIT_WAIT = 2
"""
IBM's default: seconds before the first retransmission (each next wait is
1.8 times longer).  With L{DEFAULT_IKE_RETRIES}, a peer that answers
nothing is given up after about 150 seconds.
"""
DEFAULT_NMI_IDLE_TIMEOUT = 60
"""
Seconds a management connection may stay idle: the protocol's default,
C{nsstwisted.protocols.nmi.DEFAULT_IDLE_TIMEOUT}, as a whole number.
"""

DEFAULT_COOKIE_THRESHOLD = 30
"""
Half-open IKE SAs from which iked asks every new initiator for a COOKIE:
strongSwan's C{cookie_threshold}, the engine's default.
"""
DEFAULT_HALF_OPEN_LIMIT = 1000
"""
Half-open IKE SAs at which iked drops new IKE_SA_INIT requests: a few
megabytes of state at most, and far more than COOKIE-answering peers
start in one C{halfOpenTimeout} (30 s) unless they are attacking.
"""
COOKIE_THRESHOLD_RANGE = (0, 100000)
HALF_OPEN_LIMIT_RANGE = (1, 1000000)

# Our ranges, where IBM documents none: wide enough for any sensible value,
# narrow enough that a slip of the keyboard (an extra zero) is caught.
NSS_WAIT_LIMIT_RANGE = (1, 3600)
NSS_WAIT_RETRIES_RANGE = (1, 100)
SYSLOG_LEVEL_RANGE = (0, 1023)
NMI_IDLE_TIMEOUT_RANGE = (0, 86400)
IKE_RETRIES_RANGE = (1, 10)
IKE_INIT_WAIT_RANGE = (1, 10)

DEFAULT_IKE_FRAGMENT_SIZE = DEFAULT_FRAGMENT_SIZE
"""RFC 7383 fragmentation above 1280-octet datagrams: IPv6's minimum MTU."""
MAX_IKE_FRAGMENT_SIZE = 65535

MAX_RING_NAME_LENGTH = 237
# sun_path is 108 bytes on Linux, one of which is the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107

_RING_FORBIDDEN = "/(),'"


def _ring_text(ring: tuple[str, str]) -> str:
    return f"{ring[0]}/{ring[1]}"


_sa_installer = _choice({"record": "record", "xfrm": "xfrm"}, "Record or Xfrm")


def _fips140(setting: Setting, filename: str) -> None:
    # Accepting "yes" and ignoring it would let an operator believe iked
    # restricts itself to FIPS 140 algorithms when it does not.
    if _yes_no(setting, filename):
        raise _error(
            setting,
            filename,
            "yes is not supported: nsstwisted does not restrict itself to"
            " FIPS 140 algorithms",
        )


_SMF119 = {
    value.lower()
    for value in (
        "None",
        "IKEALL",
        "IKETunnel",
        "IKETunnelActDeact",
        "IKETunnelExpire",
        "IKETunnelRefresh",
        "DynTunnel",
        "DynTunnelALL",
        "DynTunnelActDeact",
        "DynTunnelExpire",
        "DynTunnelRefresh",
    )
}


def _smf119(setting: Setting, filename: str) -> None:
    if not setting.values:
        raise _error(setting, filename, "takes at least one record type")
    for value in setting.values:
        if value.lower() not in _SMF119:
            raise _error(
                setting,
                filename,
                f"{value!r} is not a record type: None, IKEALL, IKETunnel or DynTunnel",
            )


def _ring(setting: Setting, filename: str) -> tuple[str, str]:
    text = _single(setting, filename)
    owner, slash, ring = text.partition("/")
    if not slash:
        owner, ring = DEFAULT_RING_OWNER, text
    owner = owner.upper()
    if not _USERID.fullmatch(owner):
        raise _error(
            setting,
            filename,
            f"the ring owner {owner!r} must be a user ID:"
            " 1 to 8 of A-Z 0-9 @ # $, not starting with a digit",
        )
    name = ring.upper()
    if not 1 <= len(name) <= MAX_RING_NAME_LENGTH or any(
        c.isspace() or not c.isprintable() or c in _RING_FORBIDDEN for c in name
    ):
        raise _error(
            setting,
            filename,
            f"the ring name {ring!r} must be 1 to {MAX_RING_NAME_LENGTH}"
            " printable characters without blanks or / ( ) , '",
        )
    return owner, name


def _fragment_size(setting: Setting, filename: str) -> int:
    """
    IkeFragmentSize: the largest IP datagram an encrypted IKE message may
    take before it is sent as RFC 7383 fragments; C{Off} (or 0) neither
    announces nor accepts fragmentation.
    """
    text = _single(setting, filename)
    if text.lower() in ("off", "0"):
        return 0
    value = _digits(text, MIN_FRAGMENT_SIZE, MAX_IKE_FRAGMENT_SIZE)
    if value is None:
        raise _error(
            setting,
            filename,
            f"must be Off, or a datagram size from {MIN_FRAGMENT_SIZE} to"
            f" {MAX_IKE_FRAGMENT_SIZE} octets (IPv4 needs 576, IPv6 1280)",
        )
    return value


def _no_key_ring(setting: Setting, filename: str) -> None:
    _none(setting, filename)


# keyword (lower case) -> (field, check); a field of None is checked only.
_IKE_KEYWORDS: dict[str, tuple[str | None, _Check]] = {
    "ikesysloglevel": ("ikeSyslogLevel", _number(*SYSLOG_LEVEL_RANGE)),
    "pagentsysloglevel": (None, _number(*SYSLOG_LEVEL_RANGE)),
    "smf119": (None, _smf119),
    "ikeretries": ("ikeRetries", _number(*IKE_RETRIES_RANGE)),
    "ikeinitwait": ("ikeInitWait", _number(*IKE_INIT_WAIT_RANGE)),
    "fips140": (None, _fips140),
    "keyring": ("keyRing", _ring),
    "nokeyring": ("keyRing", _no_key_ring),
    "echo": (None, _yes_no),
    "networksecurityserver": ("primary", _server),
    "networksecurityserverbackup": ("backup", _server),
    "nsswaitlimit": ("nssWaitLimit", _number(*NSS_WAIT_LIMIT_RANGE)),
    "nsswaitretries": ("nssWaitRetries", _number(*NSS_WAIT_RETRIES_RANGE)),
    "pagentwait": (None, _number(0, 86400)),
    "supportedcertauth": (None, _label),
    "systemname": ("systemName", _system_name),
    "nmisocket": ("nmiSocket", _path(MAX_SOCKET_PATH_BYTES)),
    "nmiidletimeout": ("nmiIdleTimeout", _number(*NMI_IDLE_TIMEOUT_RANGE)),
    "nmisocketgroup": ("nmiSocketGroup", _socket_group),
    "nmisocketmode": ("nmiSocketMode", _socket_mode),
    "cafile": ("caFile", _path()),
    "sainstaller": ("saInstaller", _sa_installer),
    "securitydatabase": ("securityDatabase", database_location),
    "stashfile": ("stashFile", _path()),
    "requireremoteidentity": ("requireRemoteIdentity", _yes_no),
    "metricsport": ("metrics", metrics_listener_value),
    "ikefragmentsize": ("ikeFragmentSize", _fragment_size),
    "cookiethreshold": ("cookieThreshold", _number(*COOKIE_THRESHOLD_RANGE)),
    "halfopenlimit": ("halfOpenLimit", _number(*HALF_OPEN_LIMIT_RANGE)),
}


def _ike_config(statement: Statement, filename: str) -> dict[str, Any]:
    if statement.name is not None:
        raise _statement_error(
            statement, filename, f"takes no name, but {statement.name!r} is given"
        )
    values: dict[str, Any] = {}
    coded: dict[str, Setting] = {}
    for setting in statement.settings:
        entry = _IKE_KEYWORDS.get(setting.keyword.lower())
        if entry is None:
            raise unknown_keyword(setting, filename, "IkeConfig", _IKE_KEYWORDS)
        name, check = entry
        value = check(setting, filename)
        if name is not None:
            values[name] = value
            coded[name] = setting
    _check_flood_limits(values, coded, filename)
    return values


def _check_flood_limits(
    values: dict[str, Any], coded: dict[str, Setting], filename: str
) -> None:
    """
    The COOKIE must come before the limit: at or above C{HalfOpenLimit},
    a flood from forged addresses would fill the half-open table and lock
    every real peer out, where COOKIEs let them in.
    """
    threshold = values.get("cookieThreshold", DEFAULT_COOKIE_THRESHOLD)
    limit = values.get("halfOpenLimit", DEFAULT_HALF_OPEN_LIMIT)
    if threshold < limit:
        return
    setting = coded.get("cookieThreshold") or coded["halfOpenLimit"]
    raise _error(
        setting,
        filename,
        f"CookieThreshold ({threshold}) must be below HalfOpenLimit ({limit}):"
        " otherwise forged IKE_SA_INIT requests fill the half-open IKE SAs"
        " and real peers are dropped before they are asked for a COOKIE",
    )
