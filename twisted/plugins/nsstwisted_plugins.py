"""
The twistd plugins of nsstwisted: C{twistd -n nssd} and C{twistd -n iked}.

Thin on purpose: the services live in L{nsstwisted.nssd}, so that other
Twisted applications can embed them without twistd.
"""

from __future__ import annotations

from typing import ClassVar, NoReturn

from twisted.application.service import IServiceMaker
from twisted.plugin import IPlugin
from twisted.python import usage
from zope.interface import implementer


def _version(program: str) -> NoReturn:
    # Twisted's own --version would name Twisted's release, not ours.
    from nsstwisted import __version__

    print(f"{program} (nsstwisted) {__version__}")
    raise SystemExit(0)


class NssdOptions(usage.Options):
    synopsis = "[--config FILE] [--interface ADDRESS]"
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

    def opt_version(self) -> None:
        """Display the nsstwisted version and exit."""
        _version("nssd")


@implementer(IServiceMaker, IPlugin)
class NssdServiceMaker:
    tapname = "nssd"
    description = "Network Security Services server (NSS): key ring, signatures, NMI"
    options = NssdOptions

    def makeService(self, options: NssdOptions) -> object:
        from twisted.internet import reactor

        from nsstwisted.nssd.configuration import config_path
        from nsstwisted.nssd.service import NSSDService, StartupError

        try:
            return NSSDService.prepare(
                config_path(options["config"]), reactor, interface=options["interface"]
            )
        except StartupError as e:
            raise SystemExit(f"nssd: DBG0010I NSS server cannot start: {e}") from None


nssd = NssdServiceMaker()


class IkedOptions(usage.Options):
    synopsis = "[--config FILE]"
    longdesc = (
        "The IKE daemon.  The configuration file is --config, else $IKED_FILE, "
        "else /etc/security/iked.conf."
    )
    optParameters: ClassVar[list[list[str | None]]] = [
        ["config", "c", None, "The iked configuration file."],
    ]

    def opt_version(self) -> None:
        """Display the nsstwisted version and exit."""
        _version("iked")


@implementer(IServiceMaker, IPlugin)
class IkedServiceMaker:
    tapname = "iked"
    description = "IKE daemon: per-stack NSS clients with failover, local NMI"
    options = IkedOptions

    def makeService(self, options: IkedOptions) -> object:
        from twisted.internet import reactor

        from nsstwisted.iked.configuration import config_path
        from nsstwisted.iked.service import IKEDService, StartupError

        try:
            return IKEDService.prepare(config_path(options["config"]), reactor)
        except StartupError as e:
            raise SystemExit(f"iked: EZD1104I IKE daemon cannot start: {e}") from None


iked = IkedServiceMaker()
