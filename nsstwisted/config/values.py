"""
Values that both daemons' configuration files take the same way: one
setting's single value, the system name, absolute paths, certificate
labels, yes or no, the group and mode of a management socket, a metrics
listener, the audit trail's settings and nssd's PKCS#11 token, each
checked with an error naming the file, line and keyword; and the error
for a keyword a statement does not take, with the nearest one it does.

The configuration assistant checks a description's values with these same
functions, so that what it generates is what the daemons take: a check
that more than one daemon (or the assistant) needs lives here rather than
in a daemon, which the others may not import.
"""

from __future__ import annotations

import difflib
import enum
import grp
import ipaddress
import os
import re
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from nsstwisted.config.parser import ConfigurationError, Setting

MAX_LABEL_LENGTH = 32
SYSTEM_NAME = re.compile(r"[A-Z0-9@#$]{1,8}")

Check = Callable[[Setting, str], Any]
"""Checks one setting (and the file it is in) and returns its value."""

MAX_SOCKET_PATH_BYTES = 107
"""The longest path of an AF_UNIX socket: C{sun_path} is 108 bytes on
Linux, one of which is the terminating NUL."""


def setting_error(setting: Setting, filename: str, message: str) -> ConfigurationError:
    return ConfigurationError(message, filename, setting.line, setting.keyword)


def unknown_keyword(
    setting: Setting, filename: str, statement: str, keywords: Iterable[str]
) -> ConfigurationError:
    """
    The error for C{setting}, whose keyword C{statement} does not take; it
    suggests the one of C{keywords} nearest to what was written, if any is
    near enough to be the one meant (a typing mistake rather than a keyword
    of another product).
    """
    message = f"unknown keyword of {statement}"
    nearest = nearest_keyword(setting.keyword, keywords)
    if nearest is not None:
        message += f"; did you mean {nearest}?"
    return setting_error(setting, filename, message)


def nearest_keyword(written: str, keywords: Iterable[str]) -> str | None:
    """
    The keyword of C{keywords} nearest to C{written}, without regard to
    case, or C{None} if none is near.

    Keywords are not case sensitive, so a table may hold them in lower case;
    the suggestion is then spelled in the case the operator wrote
    (C{MaxConection} suggests C{MaxConnections}), and a table that spells
    its keywords in mixed case is quoted as it spells them.
    """
    spelled = {keyword.lower(): keyword for keyword in keywords}
    found = difflib.get_close_matches(written.lower(), spelled, n=1, cutoff=0.75)
    if not found:
        return None
    keyword = spelled[found[0]]
    if keyword != keyword.lower():
        return keyword
    return _in_case_of(written, keyword)


def _in_case_of(written: str, keyword: str) -> str:
    """
    C{keyword} with the case of C{written} wherever the two hold the same
    letters; the letters C{written} lacks are lower case, or upper case if
    it is written all in upper case.
    """
    matcher = difflib.SequenceMatcher(None, written.lower(), keyword, autojunk=False)
    shout = written.isupper()
    spelled: list[str] = []
    for operation, i1, i2, j1, j2 in matcher.get_opcodes():
        if operation == "equal":
            spelled.append(written[i1:i2])
        else:
            spelled.append(keyword[j1:j2].upper() if shout else keyword[j1:j2])
    return "".join(spelled)


def single_value(setting: Setting, filename: str) -> str:
    if len(setting.values) != 1:
        raise setting_error(setting, filename, "takes exactly one value")
    return setting.values[0]


def system_name_value(setting: Setting, filename: str) -> str:
    name = single_value(setting, filename).upper()
    if not SYSTEM_NAME.fullmatch(name):
        raise setting_error(setting, filename, "must be 1 to 8 of A-Z 0-9 @ # $")
    return name


def absolute_path(limit: int | None = None) -> Check:
    def check(setting: Setting, filename: str) -> str:
        path = single_value(setting, filename)
        # A daemon's working directory is not the operator's, so a relative
        # path would name a different file than the one meant.
        if not os.path.isabs(path):
            raise setting_error(setting, filename, "must be an absolute path")
        if limit is not None and len(path.encode("utf-8")) > limit:
            raise setting_error(
                setting,
                filename,
                f"must be at most {limit} bytes long (the AF_UNIX limit)",
            )
        return path

    return check


def database_location(setting: Setting, filename: str) -> str:
    """
    C{SecurityDatabase}: the absolute path of an SQLite file, or a
    PostgreSQL connection URI (libpq's syntax).

    A URI may not carry a password: the configuration is shown by
    C{nss-modify ... display} and readable by whoever may read the file,
    while libpq reads a password from a file only its owner can read (the
    URI's C{passfile} parameter, or C{~/.pgpass}).
    """
    location = single_value(setting, filename)
    if not location.startswith(("postgresql://", "postgres://")):
        path: str = absolute_path()(setting, filename)
        return path
    try:
        parts = urllib.parse.urlsplit(location)
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        password = parts.password
    except ValueError as e:
        raise setting_error(
            setting, filename, f"is not a PostgreSQL connection URI ({e})"
        ) from None
    if password is not None or "password" in query:
        raise setting_error(
            setting,
            filename,
            "must not hold a password: put it in a password file (the URI's"
            " passfile parameter, or ~/.pgpass), which only nssd's user reads",
        )
    return location


def label_value(setting: Setting, filename: str) -> str:
    label = single_value(setting, filename)
    if not 1 <= len(label) <= MAX_LABEL_LENGTH or not label.isprintable():
        raise setting_error(
            setting,
            filename,
            f"must be 1 to {MAX_LABEL_LENGTH} printable characters"
            " (quote a label holding blanks)",
        )
    return label


def default_system_name(hostname: str) -> str:
    """
    The system name to use when none is coded: the short host name, upper
    case, cut to 8 characters, much as an MVS system name is usually the
    host's own short name; both daemons use it, so a host running both gets
    one name.  The result may still be invalid (C{web-01}); the
    loader then asks for C{SystemName} rather than guessing a mapping that
    would silently change profile names.
    """
    return hostname.split(".", 1)[0].upper()[:8]


DEFAULT_SOCKET_MODE = 0o660
"""
A management socket's mode unless C{NmiSocketMode} says otherwise: its
owner and group may connect (connecting needs write permission), others
may not (C{nsstwisted.wire.nmi.SOCKET_MODE}, restated so that this
package stays free of the wire codecs).
"""


def yes_no_value(setting: Setting, filename: str) -> bool:
    """C{yes} or C{no}, in any case."""
    text = single_value(setting, filename).lower()
    if text not in ("yes", "no"):
        raise setting_error(setting, filename, "must be yes or no")
    return text == "yes"


def socket_group_value(setting: Setting, filename: str) -> str:
    """
    A group of this host, by name or number, for the group that a
    management socket is given: checked when the file is read, so that a
    misspelt group is an error naming the file, line and keyword rather
    than a daemon that starts and locks its operators out.
    """
    name = single_value(setting, filename)
    try:
        if name.isascii() and name.isdigit():
            grp.getgrgid(int(name))
        else:
            grp.getgrnam(name)
    except (KeyError, OverflowError):
        raise setting_error(
            setting, filename, f"the group {name!r} does not exist on this host"
        ) from None
    return name


def socket_mode_value(setting: Setting, filename: str) -> int:
    """
    The permission bits of a management socket, in octal (C{0660}).

    Whoever may connect may send every request the daemon serves without
    further check (nssd checks the routed ones with SERVAUTH, iked checks
    none), so a mode that lets others connect is refused rather than
    warned about: the socket's group is how operators are let in.  The
    owner must keep read and write, so that the daemon's own user can
    manage it.
    """
    text = single_value(setting, filename)
    why = ""
    if text.isascii() and 3 <= len(text) <= 4 and all(c in "01234567" for c in text):
        mode = int(text, 8)
        if mode & 0o007:
            why = f"{text} would let every user of this host connect; "
        elif mode & 0o600 != 0o600:
            why = f"{text} would keep the daemon's own user out; "
        elif not mode & ~0o770:
            return mode
    raise setting_error(
        setting,
        filename,
        f"{why}must be an octal mode that gives the owner read and write and"
        " others nothing, such as 0660 (owner and group) or 0600 (owner only)",
    )


def socket_mode_text(mode: int) -> str:
    """A socket mode as C{NmiSocketMode} takes it back: C{0660}."""
    return f"{mode:04o}"


DEFAULT_METRICS_INTERFACE = "127.0.0.1"
"""
Where a metrics listener listens unless told otherwise: loopback, so that
turning metrics on exposes nothing beyond the host until an operator names
an address (a Prometheus server elsewhere, or an agent on this host).
"""


@dataclass(frozen=True)
class MetricsListener:
    """
    Where a daemon serves its Prometheus metrics (C{MetricsPort}).

    @ivar port: the TCP port; 0 (for tests) lets the system choose.
    @ivar interface: the IPv4 or IPv6 address listened on.
    """

    port: int
    interface: str = DEFAULT_METRICS_INTERFACE

    def describe(self) -> str:
        """The setting as its configuration file writes it."""
        return f"MetricsPort {self.port} Interface {self.interface}"

    def display_data(self) -> dict[str, object]:
        """The setting as data, for a display in JSON."""
        return {"Port": self.port, "Interface": self.interface}


def metrics_listener_value(setting: Setting, filename: str) -> MetricsListener:
    """
    C{MetricsPort port [Interface address]}: a port of 0 to 65535 and,
    optionally, the address to listen on, which must be an IP address (a
    host name would be looked up at each start, and could name another
    interface than the operator checked).
    """
    values = setting.values
    shape = "takes a port, then optionally Interface and an IP address"
    if len(values) not in (1, 3) or (
        len(values) == 3 and values[1].lower() != "interface"
    ):
        raise setting_error(setting, filename, shape)
    text = values[0]
    if not (text.isascii() and text.isdigit() and len(text) <= 5) or not (
        0 <= int(text) <= 65535
    ):
        raise setting_error(
            setting, filename, "the port must be a number from 0 to 65535"
        )
    if len(values) == 1:
        return MetricsListener(int(text))
    try:
        address = ipaddress.ip_address(values[2])
    except ValueError:
        raise setting_error(
            setting,
            filename,
            f"Interface {values[2]!r} must be an IPv4 or IPv6 address",
        ) from None
    return MetricsListener(int(text), str(address))


class AuditSync(enum.Enum):
    """
    When the audit trail's records are forced to disk (C{AuditSync}):
    C{none} leaves it to the kernel (a crash of nssd loses nothing, a crash
    of the host may lose the last seconds), C{interval} forces them at most
    a second after they were written, C{every} before the request they
    record is answered.
    """

    NONE = "none"
    INTERVAL = "interval"
    EVERY = "every"


def audit_sync_value(setting: Setting, filename: str) -> AuditSync:
    """C{AuditSync none|interval|every}, in any case."""
    text = single_value(setting, filename).lower()
    for sync in AuditSync:
        if sync.value == text:
            return sync
    raise setting_error(setting, filename, "must be none, interval or every")


def syslog_facility_value(facilities: Iterable[str]) -> Check:
    """
    The check of C{AuditSyslog none|facility}: C{None} for C{none}, else
    one of C{facilities} (their C{syslog.conf} names, which the audit
    trail's syslog target defines: this package may not import it), in
    lower case.
    """
    names = tuple(facilities)

    def check(setting: Setting, filename: str) -> str | None:
        text = single_value(setting, filename).lower()
        if text == "none":
            return None
        if text not in names:
            raise setting_error(
                setting, filename, f"must be none or a facility: {', '.join(names)}"
            )
        return text

    return check


MAX_TOKEN_LABEL_BYTES = 32
"""A token label is C{CK_TOKEN_INFO.label}: 32 bytes, blank padded."""

PKCS11_KEYWORDS = {
    "pkcs11Module": "Pkcs11Module",
    "pkcs11TokenLabel": "Pkcs11TokenLabel",
    "pkcs11PinFile": "Pkcs11PinFile",
}
"""The keywords of nssd's token, by the field each sets: coded all three
or none, since nssd reaches a token through its module, by its label, with
the PIN of its PIN file, and any two of them reach nothing."""


def token_label_value(setting: Setting, filename: str) -> str:
    """
    A PKCS#11 token label (the same rule as L{nsstwisted.security.
    tokenreference.check_token_label}, restated to stay stdlib-only): 1 to
    32 bytes of UTF-8, printable, with no blank at either end, since the
    token pads its label with blanks.
    """
    label = single_value(setting, filename)
    size = len(label.encode("utf-8"))
    if not 1 <= size <= MAX_TOKEN_LABEL_BYTES or not label.isprintable():
        raise setting_error(
            setting,
            filename,
            f"must be 1 to {MAX_TOKEN_LABEL_BYTES} bytes of printable characters"
            " (quote a label holding blanks)",
        )
    if label != label.strip():
        raise setting_error(setting, filename, "must not begin or end with a blank")
    return label


def check_pkcs11_complete(coded: dict[str, Setting], filename: str) -> None:
    """
    Refuse a token named by some of L{PKCS11_KEYWORDS} but not all
    (C{coded}: the settings coded, by field), at the last one coded.
    """
    if not coded or len(coded) == len(PKCS11_KEYWORDS):
        return
    last = list(coded.values())[-1]
    missing = [k for f, k in PKCS11_KEYWORDS.items() if f not in coded]
    raise setting_error(
        last,
        filename,
        "needs " + " and ".join(missing) + " as well: nssd reaches a PKCS#11"
        " token through its module, by its label, with the PIN of its PIN"
        " file",
    )
