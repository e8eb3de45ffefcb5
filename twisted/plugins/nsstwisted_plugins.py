"""
The twistd plugins of nsstwisted: C{twistd -n nssd} and C{twistd -n iked}.

Thin on purpose: the services live in L{nsstwisted.nssd}, so that other
Twisted applications can embed them without twistd.

A start fails in one of two places, and either way twistd exits 1 with the
daemon's message and no traceback: while the service is made (the
configuration, the database, the key ring; before twistd logs anything, so
the message goes to standard error), or in C{startService}, where the
service binds its sockets, logs its message and raises; see
L{nsstwisted.protocols.startup}.  C{--check} does the first part only and
exits.
"""

from __future__ import annotations

import sys
from typing import ClassVar, NoReturn

from twisted.application.service import IServiceMaker
from twisted.plugin import IPlugin
from twisted.python import usage
from zope.interface import implementer

_CHECK = (
    "Check the configuration as a start would (the security database is "
    "opened read-only), bind nothing, and exit: 0 if the daemon can start "
    "with it, 1 with the message a start would give if not."
)


def _version(program: str) -> NoReturn:
    # Twisted's own --version would name Twisted's release, not ours.
    from nsstwisted import __version__

    print(f"{program} (nsstwisted) {__version__}")
    raise SystemExit(0)


class NssdOptions(usage.Options):
    synopsis = "[--config FILE] [--interface ADDRESS] [--check]"
    longdesc = (
        "The NSS server.  The configuration file is --config, else $NSSD_FILE, "
        "else /etc/security/nssd.conf."
    )
    optParameters: ClassVar[list[list[str | None]]] = [
        ["config", "c", None, "The nssd configuration file."],
        [
            "interface",
            "i",
            "::",
            "The address to listen on (default: every IPv6 and IPv4 address).",
        ],
    ]
    optFlags: ClassVar[list[list[str | None]]] = [["check", None, _CHECK]]

    def postOptions(self) -> None:
        # Here rather than in makeService: twistd has not yet looked at its
        # PID file, so a check runs beside the nssd it is meant for.
        if self["check"]:
            raise SystemExit(check_nssd(self))

    def opt_version(self) -> None:
        """Display the nsstwisted version and exit."""
        _version("nssd")


def check_nssd(options: NssdOptions) -> int:
    from twisted.internet import reactor

    from nsstwisted.nssd.configuration import config_path
    from nsstwisted.nssd.service import NSSDService
    from nsstwisted.protocols.startup import StartupError

    try:
        lines = NSSDService.check(config_path(options["config"]), reactor)
    except StartupError as e:
        print(f"nssd: DBG0010I NSS server cannot start: {e}", file=sys.stderr)
        return 1
    _print_check("nssd", lines)
    return 0


@implementer(IServiceMaker, IPlugin)
class NssdServiceMaker:
    tapname = "nssd"
    description = "Network Security Services server (NSS): key ring, signatures, NMI"
    options = NssdOptions

    def makeService(self, options: NssdOptions) -> object:
        from twisted.internet import reactor

        from nsstwisted.nssd.configuration import config_path
        from nsstwisted.nssd.service import NSSDService
        from nsstwisted.protocols.startup import StartupError, for_twistd

        try:
            service = NSSDService.prepare(
                config_path(options["config"]), reactor, interface=options["interface"]
            )
        except StartupError as e:
            raise SystemExit(f"nssd: DBG0010I NSS server cannot start: {e}") from None
        return for_twistd(service)


nssd = NssdServiceMaker()


class IkedOptions(usage.Options):
    synopsis = "[--config FILE] [--check]"
    longdesc = (
        "The IKE daemon.  The configuration file is --config, else $IKED_FILE, "
        "else /etc/security/iked.conf."
    )
    optParameters: ClassVar[list[list[str | None]]] = [
        ["config", "c", None, "The iked configuration file."],
    ]
    optFlags: ClassVar[list[list[str | None]]] = [["check", None, _CHECK]]

    def postOptions(self) -> None:
        if self["check"]:
            raise SystemExit(check_iked(self))

    def opt_version(self) -> None:
        """Display the nsstwisted version and exit."""
        _version("iked")


def check_iked(options: IkedOptions) -> int:
    from twisted.internet import reactor

    from nsstwisted.iked.configuration import config_path
    from nsstwisted.iked.service import IKEDService
    from nsstwisted.protocols.startup import StartupError

    try:
        lines = IKEDService.check(config_path(options["config"]), reactor)
    except StartupError as e:
        print(f"iked: EZD1104I IKE daemon cannot start: {e}", file=sys.stderr)
        return 1
    _print_check("iked", lines)
    return 0


def _print_check(daemon: str, lines: list[str]) -> None:
    first, *details = lines
    print(f"{daemon}: {first}")
    for line in details:
        print(f"  {line}")


@implementer(IServiceMaker, IPlugin)
class IkedServiceMaker:
    tapname = "iked"
    description = "IKE daemon: per-stack NSS clients with failover, local NMI"
    options = IkedOptions

    def makeService(self, options: IkedOptions) -> object:
        from twisted.internet import reactor

        from nsstwisted.iked.configuration import config_path
        from nsstwisted.iked.service import IKEDService
        from nsstwisted.protocols.startup import StartupError, for_twistd

        try:
            service = IKEDService.prepare(config_path(options["config"]), reactor)
        except StartupError as e:
            raise SystemExit(f"iked: EZD1104I IKE daemon cannot start: {e}") from None
        return for_twistd(service)


iked = IkedServiceMaker()
