"""
The IKE daemon's configuration: iked.conf, read into an L{IkedConfiguration}
by L{ikedconf}, one module per statement family (L{ikeconfig},
L{nssstack}, L{tcpipstack}) with the values they share (L{values},
L{nssserver}) and the secret files an NSS stack names (L{secretfiles}),
and the stack policy files it names (L{policyfile}), whose IKE statements
the IKEv2 runtime checks (L{nsstwisted.iked.keyexchange.ikepolicy}).  This
module names the public API of iked.conf.  The package may import the
IKEv2 runtime and the stack model below it, and L{nsstwisted.config},
C{wire} and C{ike}; never the NSS client room, which is configured by it,
nor iked's service.
"""

from nsstwisted.config.values import default_system_name
from nsstwisted.iked.configuration.ikeconfig import (
    DEFAULT_IKE_SYSLOG_LEVEL,
    DEFAULT_KEY_RING,
    DEFAULT_NMI_IDLE_TIMEOUT,
    DEFAULT_NMI_SOCKET,
    DEFAULT_NSS_WAIT_LIMIT,
    DEFAULT_NSS_WAIT_RETRIES,
    DEFAULT_RING_OWNER,
)
from nsstwisted.iked.configuration.ikedconf import (
    CONFIG_VARIABLE,
    DEFAULT_CONFIG_PATH,
    MAX_STACKS,
    IkedConfiguration,
    config_path,
    iked_configuration_from_text,
    load_iked_configuration,
)
from nsstwisted.iked.configuration.nssserver import (
    DEFAULT_PORT,
    IDENTITY_KINDS,
    NssServerAddress,
)
from nsstwisted.iked.configuration.nssstack import AuthBy, NssStackConfig
from nsstwisted.iked.configuration.secretfiles import read_stack_secret
from nsstwisted.iked.configuration.tcpipstack import StackDeclaration

__all__ = [
    "CONFIG_VARIABLE",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_IKE_SYSLOG_LEVEL",
    "DEFAULT_KEY_RING",
    "DEFAULT_NMI_IDLE_TIMEOUT",
    "DEFAULT_NMI_SOCKET",
    "DEFAULT_NSS_WAIT_LIMIT",
    "DEFAULT_NSS_WAIT_RETRIES",
    "DEFAULT_PORT",
    "DEFAULT_RING_OWNER",
    "IDENTITY_KINDS",
    "MAX_STACKS",
    "AuthBy",
    "IkedConfiguration",
    "NssServerAddress",
    "NssStackConfig",
    "StackDeclaration",
    "config_path",
    "default_system_name",
    "iked_configuration_from_text",
    "load_iked_configuration",
    "read_stack_secret",
]
