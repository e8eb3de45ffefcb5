"""
The description's TOML layout: which tables it has, which keys each table
takes, and which field of the model each key fills.

The loader and the TOML writer both read these tables, so that a key the
loader takes is a key the writer writes, in the same order, and neither can
learn a key the other does not know.  Findings name their table with
L{table_path}, so that the path in a message is one the operator can find
in the file.

The keys are the operator's words: the seed's keyword names in snake case
(C{SystemName} is C{system_name}, C{NssWaitLimit} is C{nss_wait_limit}).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import get_args

from nsstwisted.assistant.model import AuditSyncMode, KeyStore
from nsstwisted.security.auditsyslog import FACILITIES


class Kind(Enum):
    """
    The TOML type a key takes.
    """

    STRING = "a string"
    INTEGER = "an integer"
    BOOLEAN = "true or false"
    STRINGS = "a list of strings"


@dataclass(frozen=True)
class Key:
    """
    One key of a table.

    @ivar name: the key as the file spells it.
    @ivar field: the model's field it fills.
    @ivar choices: the values it may take, in their canonical spelling;
        the loader takes them in any case and keeps the canonical one, as
        the daemons take IBM's keywords.  For a list, each entry's choices.
    """

    name: str
    field: str
    kind: Kind
    required: bool = False
    choices: tuple[str, ...] = ()


_SERVICE_CHOICES = ("Cert", "RemoteMgmt")

#: C{[servers.NAME]}: one nssd (L{nsstwisted.assistant.model.NssServer}).
SERVER_KEYS = (
    Key("system_name", "systemName", Kind.STRING, required=True),
    Key("address", "address", Kind.STRING, required=True),
    Key("port", "port", Kind.INTEGER),
    Key("backup_of", "backupOf", Kind.STRING),
    Key("key_ring", "keyRing", Kind.STRING),
    Key("tls_key_ring", "tlsKeyRing", Kind.STRING),
    Key("tls_label", "tlsLabel", Kind.STRING),
    Key("user_id", "userId", Kind.STRING),
    Key("syslog_level", "syslogLevel", Kind.INTEGER),
    Key("database", "database", Kind.STRING),
    Key("stash_file", "stashFile", Kind.STRING),
    Key("nmi_socket", "nmiSocket", Kind.STRING),
    Key("identity", "identity", Kind.STRING),
    Key("metrics_port", "metricsPort", Kind.INTEGER),
    Key("metrics_interface", "metricsInterface", Kind.STRING),
    Key("audit_file", "auditFile", Kind.STRING),
    Key("audit_sync", "auditSync", Kind.STRING, choices=get_args(AuditSyncMode)),
    Key("audit_required", "auditRequired", Kind.BOOLEAN),
    Key("audit_syslog", "auditSyslog", Kind.STRING, choices=tuple(FACILITIES)),
    Key("audit_syslog_socket", "auditSyslogSocket", Kind.STRING),
    Key("pkcs11_module", "pkcs11Module", Kind.STRING),
    Key("pkcs11_token_label", "pkcs11TokenLabel", Kind.STRING),
    Key("pkcs11_pin_file", "pkcs11PinFile", Kind.STRING),
    Key("config_file", "configFile", Kind.STRING),
)

#: C{[images.NAME]}: the image's own keys
#: (L{nsstwisted.assistant.model.Image}).
IMAGE_KEYS = (
    Key("system_name", "systemName", Kind.STRING, required=True),
    Key("ca_file", "caFile", Kind.STRING),
    Key("ike_syslog_level", "ikeSyslogLevel", Kind.INTEGER),
    Key("nmi_socket", "nmiSocket", Kind.STRING),
    Key("sa_installer", "saInstaller", Kind.STRING, choices=("Record", "Xfrm")),
    Key("metrics_port", "metricsPort", Kind.INTEGER),
    Key("metrics_interface", "metricsInterface", Kind.STRING),
    Key("secrets_directory", "secretsDirectory", Kind.STRING),
    Key("config_file", "configFile", Kind.STRING),
)

#: The settings iked.conf holds once (IkeConfig): written in
#: C{[images.NAME]}, although the model keeps them among the image's
#: defaults (L{nsstwisted.assistant.model.IMAGE_ONLY_SETTINGS}).
IMAGE_ONLY_KEYS = (
    Key("servers", "servers", Kind.STRINGS),
    Key("nss_wait_limit", "nssWaitLimit", Kind.INTEGER),
    Key("nss_wait_retries", "nssWaitRetries", Kind.INTEGER),
)

#: The settings a stack inherits and may override: C{[images.NAME.defaults]}
#: and the stack's own table.
INHERITED_KEYS = (
    Key("user_id", "userId", Kind.STRING),
    Key("auth_by", "authBy", Kind.STRING, choices=("Password", "PassTicket")),
    Key("services", "services", Kind.STRINGS, choices=_SERVICE_CHOICES),
    Key("certificate", "certificate", Kind.STRING),
    Key("identity", "identity", Kind.STRING),
)

#: C{[images.NAME.stacks.STACK]}: the stack's own keys
#: (L{nsstwisted.assistant.model.Stack}); its overrides follow
#: (L{INHERITED_KEYS}, and L{IMAGE_ONLY_KEYS}, which validation refuses).
STACK_KEYS = (
    Key("client_name", "clientName", Kind.STRING),
    Key("nss", "nss", Kind.BOOLEAN),
    Key("namespace", "namespace", Kind.STRING),
    Key("policy_file", "policyFile", Kind.STRING),
)

#: C{[[certificates]]} (L{nsstwisted.assistant.model.Certificate}).
CERTIFICATE_KEYS = (
    Key("label", "label", Kind.STRING, required=True),
    Key(
        "usage",
        "usage",
        Kind.STRING,
        required=True,
        choices=("certauth", "client", "server"),
    ),
    Key("subject", "subject", Kind.STRING, required=True),
    Key("owner", "owner", Kind.STRING, required=True),
    Key("identities", "identities", Kind.STRINGS),
    Key("key_type", "keyType", Kind.STRING, choices=("RSA", "NISTECC")),
    Key("key_size", "keySize", Kind.INTEGER),
    Key("signed_by", "signedBy", Kind.STRING),
    Key("import_from", "importFrom", Kind.STRING),
    Key("key_store", "keyStore", Kind.STRING, choices=get_args(KeyStore)),
)

#: C{[[operators]]} (L{nsstwisted.assistant.model.Operator}).
OPERATOR_KEYS = (
    Key("user_id", "userId", Kind.STRING, required=True),
    Key("display", "display", Kind.STRINGS),
    Key("control", "control", Kind.STRINGS),
    Key("list_clients", "listClients", Kind.BOOLEAN),
)

#: The top level: C{[servers.NAME]} and C{[images.NAME]} are named tables
#: (their names are what other tables refer to, and TOML itself refuses a
#: name given twice); certificates and operators are arrays of tables,
#: because a label may hold blanks and punctuation that a table name would
#: have to quote.
TOP_LEVEL = ("servers", "images", "certificates", "operators")
IMAGE_TABLES = ("defaults", "stacks")

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def key_text(name: str) -> str:
    """
    A name as a TOML key: bare if TOML allows it bare, else a quoted
    string, so that a table path is one the file could hold.
    """
    if _BARE_KEY.fullmatch(name):
        return name
    return basic_string(name)


def basic_string(text: str) -> str:
    """
    C{text} as a TOML basic string: backslash, quote and every control
    character escaped (TOML allows none of them, but for tab, bare).
    """
    out = ['"']
    for c in text:
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c < " " or c == "\x7f":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def table_path(*names: str) -> str:
    """
    The dotted path of a table, each name as a TOML key:
    C{images.SYSTEMA.stacks.TCPCS1}.
    """
    return ".".join(key_text(name) for name in names)


def server_table(name: str) -> str:
    return table_path("servers", name)


def image_table(name: str) -> str:
    return table_path("images", name)


def defaults_table(image: str) -> str:
    return table_path("images", image, "defaults")


def stack_table(image: str, stack: str) -> str:
    return table_path("images", image, "stacks", stack)


def certificate_table(index: int) -> str:
    """
    The path of the C{index}th (from 0) C{[[certificates]]} table, as
    findings name it: C{certificates[1]} for the first, counted as an
    operator counts tables in the file.
    """
    return f"certificates[{index + 1}]"


def operator_table(index: int) -> str:
    """As L{certificate_table}, for C{[[operators]]}."""
    return f"operators[{index + 1}]"
