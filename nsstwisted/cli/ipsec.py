"""
C{nss-ipsec}: the z/OS UNIX C{ipsec} command, over the NMI.

The command keeps IBM's option syntax so that an operator's habits (and
scripts that read the reports) carry over: one I{primary} option names
what to look at (C{-w} the stacks' NSS clients, C{-k} IKE tunnels, ...),
its value names the function (C{display}, C{refresh}, ...), and the
primary options are case-sensitive while function keywords are not and may
be cut to three letters (C{-w DIS}).  Reports keep IBM's layout: three
heading lines, C{Name: value} detail lines in one column, a line of
asterisks after each entry, and C{N entries selected}.

C{-w display} (iked's stacks), C{-x display} (nssd's clients),
C{-f display|default|reload} (a stack's IP filter rules, and the switch
between its default and policy filter sets), C{-k display|deactivate|refresh}
(IKE tunnels), C{-y display|activate|deactivate|refresh} (dynamic tunnels)
C{-m display|activate|deactivate} (manual tunnels), C{-i display} (a
stack's interfaces) and C{-o display} (its NAT traversal port
translations), the last six locally with C{-p} or through nssd with C{-z},
are implemented: every primary of the table.  Adding one is adding its
request and its report; until then naming one is a usage error that says
so.
"""

from __future__ import annotations

import errno
import json
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn, TextIO

from twisted.internet import task
from twisted.internet.defer import TimeoutError
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.internet.error import ConnectError
from twisted.python import usage

from nsstwisted.cli.ipsecreports import (
    PRIMARIES,
    Primary,
    filter_control_json,
    filter_control_report,
    filter_json,
    filter_report,
    interface_json,
    interface_report,
    nss_server_json,
    nss_server_report,
    port_translation_json,
    port_translation_report,
    stack_nss_json,
    stack_nss_report,
    tunnel_control_json,
    tunnel_control_report,
    tunnel_json,
    tunnel_report,
)
from nsstwisted.cli.options import CommandOptions, Finished
from nsstwisted.cli.socketaccess import describe_denied
from nsstwisted.protocols.nmi import (
    NmiClientFactory,
    NmiClientProtocol,
    NmiConnectionLost,
    NmiError,
    NmiTerminated,
)
from nsstwisted.wire.clientinfo import decode_clientinfo_reply
from nsstwisted.wire.counts import counted
from nsstwisted.wire.fields import FieldDecodeError
from nsstwisted.wire.filters import (
    NAME_PATTERN,
    TunnelControl,
    TunnelStatus,
    control_records,
    decode_control_reply,
    decode_filter_report,
)
from nsstwisted.wire.ikensinfo import decode_ikensinfo_reply
from nsstwisted.wire.nmi import (
    IKED_SOCKET,
    NSSD_SOCKET,
    NmiMessage,
    NmiMessageType,
    NmiRecord,
)
from nsstwisted.wire.nss import CLIENT_NAME_PATTERN, STACK_NAME_PATTERN
from nsstwisted.wire.stackinfo import (
    decode_interfaces_reply,
    decode_porttran_reply,
)
from nsstwisted.wire.tunnels import (
    decode_tunnel_report,
)

__all__ = [
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "PRIMARIES",
    "SOCKETS",
    "IpsecOptions",
    "Primary",
    "keyword",
    "main",
    "run",
]

PROGRAM = "nss-ipsec"

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2

DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 86400.0

SOCKETS = {"nssd": NSSD_SOCKET, "iked": IKED_SOCKET}


# Primaries that speak of many stacks or clients at once, which IBM does
# not let -z or -p narrow.
_UNTARGETED = frozenset({"w", "x"})
_TARGETED = [f"-{p.letter}" for p in PRIMARIES if p.letter not in _UNTARGETED]
_WITH_TARGET = f"with {', '.join(_TARGETED[:-1])} or {_TARGETED[-1]}"
"""Where C{-z} and C{-p} go: every primary but C{-w} and C{-x}."""

FILTER_SCOPES = ("current", "policy", "profile", "default")
"""
The values of C{-c} with C{-f display}: IBM's C{current}, C{policy} and
C{profile} (the TCP/IP profile's rules, the default filter set), and
C{default}, ours, another name for C{profile}.
"""

_FILTER_REQUESTS = {
    "current": NmiMessageType.GET_IPFLTCURR,
    "policy": NmiMessageType.GET_IPFLTPOLICY,
    "profile": NmiMessageType.GET_IPFLTDEFAULT,
}

_SWITCHED = frozenset({TunnelStatus.STATEUPDATED, TunnelStatus.STATEALREADYSET})

_FILTER_SWITCHES = {
    "default": NmiMessageType.SET_IPFLTDEFAULT,
    "reload": NmiMessageType.SET_IPFLTPOLICY,
}


_T = NmiMessageType

_TUNNEL_CONTROLS = {
    ("k", "deactivate"): _T.DEACTIVATE_IKETUN,
    ("k", "refresh"): _T.REFRESH_IKETUN,
    ("y", "activate"): _T.ACTIVATE_IPTUNDYN,
    ("y", "deactivate"): _T.DEACTIVATE_IPTUNDYN,
    ("y", "refresh"): _T.REFRESH_IPTUNDYN,
    ("m", "activate"): _T.ACTIVATE_IPTUNMANUAL,
    ("m", "deactivate"): _T.DEACTIVATE_IPTUNMANUAL,
}
"""The control request of each tunnel (primary, function)."""

del _T

_TUNNEL_PRIMARIES = frozenset({"k", "y", "m"})


def keyword(
    text: str, choices: Sequence[str], what: str, kind: str = "function"
) -> str:
    """
    The keyword that C{text} names: the whole word or its first three
    letters or more, in any case, as IBM's C{ipsec} takes its values.

    @param what: the option, for the message.
    @param kind: what the option's values are, for the message.
    @raise usage.UsageError: C{text} names none of C{choices}.
    """
    folded = text.lower()
    for choice in choices:
        if len(folded) >= 3 and choice.startswith(folded):
            return choice
    names = ", ".join(f"{c} ({c[:3]})" for c in choices)
    raise usage.UsageError(f"unknown {what} {kind} {text!r}: {names}")


class IpsecOptions(CommandOptions):
    """
    The command line of C{nss-ipsec}.

    After parsing, C{self.primary} is the L{Primary} given and
    C{self.function} its function, in full.
    """

    program = PROGRAM

    synopsis = (
        f"Usage: {PROGRAM} -w|-x display | (-f display|default|reload "
        "[-c current|policy|profile] | -k display|deactivate|refresh [-e] | "
        "-y display|activate|deactivate|refresh [-b] | "
        "-m display|activate|deactivate [-a TUNNELID] [-n NAME] | "
        "-i display | -o display) [-z CLIENT | -p STACK] "
        "[--socket PATH] [--timeout SECONDS] [--json]"
    )
    longdesc = (
        "Display IP security information, like the z/OS UNIX ipsec command.  "
        "Exactly one primary option is given, with its function (display, or "
        "its first three letters in any case).  Implemented: -w display, the "
        "NSS client of each stack of the local iked; -x display, the NSS "
        "clients connected to the local nssd; -f display, a stack's IP filter "
        "rules (-c current, policy or profile), and -f default|reload, which "
        "switch the stack to its default or its policy filter set; -k, -y and "
        "-m display, activate, deactivate or refresh a stack's IKE, dynamic "
        "and manual tunnels, selected by tunnel ID (-a) or name (-n): the "
        "KeyExchangeRule (-k), LocalDynVpnRule (-y; display also takes the "
        "IpDynVpnAction) or IpManVpnAction (-m); -i display, a stack's "
        "interface addresses; -o display, its NAT traversal port "
        "translations.  All of these but -w and -x work for a "
        "local stack (-p) or an NSS client through nssd (-z).  The socket is "
        f"--socket, else {IKED_SOCKET} (iked), or {NSSD_SOCKET} (nssd) for -x "
        "and -z."
    )
    optFlags: ClassVar[list[list[Any]]] = [
        ["json", None, "Print the report's data as JSON."],
        ["cascade", "e", "With -k display: show each IKE tunnel's dynamic tunnels."],
        [
            "iked",
            "b",
            "With -y display: the dynamic tunnels as IKED knows them, "
            "including those being negotiated, instead of the stack's.",
        ],
    ]
    optParameters: ClassVar[list[list[Any]]] = [
        *(
            [
                p.longName,
                p.letter,
                None,
                f"{p.heading}: {'|'.join(p.functions)}.",
            ]
            for p in PRIMARIES
        ),
        ["client", "z", None, f"The NSS client to ask, through nssd ({_WITH_TARGET})."],
        ["stack", "p", None, f"The local stack to ask ({_WITH_TARGET})."],
        [
            "filter-set",
            "c",
            None,
            "With -f display: current (the default), policy, or profile "
            "(also: default), the rules to show.",
        ],
        [
            "tunnel-id",
            "a",
            None,
            "With -k, -y, -m: the tunnel ID (K1, Y2, M3) to display or act on.",
        ],
        [
            "name",
            "n",
            None,
            "With -k, -y, -m: the KeyExchangeRule, LocalDynVpnRule or "
            "IpManVpnAction name to display or act on (case-sensitive).",
        ],
        ["socket", None, None, "The daemon's NMI socket (default: its usual path)."],
        [
            "timeout",
            None,
            DEFAULT_TIMEOUT,
            "Seconds to wait for the daemon's greeting, and then for its answer.",
            float,
        ],
    ]

    primary: Primary
    function: str
    filterScope: str
    """C{current}, C{policy} or C{profile}: what C{-f display} shows."""

    def postOptions(self) -> None:
        given = [p for p in PRIMARIES if self[p.longName] is not None]
        if not given:
            letters = [f"-{p.letter}" for p in PRIMARIES]
            raise usage.UsageError(
                "a primary option is needed: "
                f"{', '.join(letters[:-1])} or {letters[-1]}"
            )
        if len(given) > 1:
            raise usage.UsageError(
                "one primary option at a time, not "
                + " and ".join(f"-{p.letter}" for p in given)
            )
        primary = given[0]
        function = keyword(
            self[primary.longName], primary.functions, f"-{primary.letter}"
        )
        if (primary.letter, function) not in _REPORTS:
            raise usage.UsageError(
                f"-{primary.letter} {function} ({primary.heading}) is not "
                "implemented yet"
            )
        if self["client"] is not None and self["stack"] is not None:
            raise usage.UsageError("-z and -p exclude each other")
        for letter, name in (("z", "client"), ("p", "stack")):
            if self[name] is not None and primary.letter in _UNTARGETED:
                raise usage.UsageError(
                    f"-{letter} cannot be used with -{primary.letter}, which "
                    "reports on all of them"
                )
        for letter, name, pattern in (
            ("z", "client", CLIENT_NAME_PATTERN),
            ("p", "stack", STACK_NAME_PATTERN),
        ):
            if self[name] is not None and not pattern.fullmatch(self[name]):
                raise usage.UsageError(f"-{letter} {self[name]!r} is not a valid name")
        self.filterScope = "current"
        if self["filter-set"] is not None:
            if (primary.letter, function) != ("f", "display"):
                raise usage.UsageError("-c goes with -f display only")
            scope = keyword(self["filter-set"], FILTER_SCOPES, "-c", "value")
            self.filterScope = "profile" if scope == "default" else scope
        self._checkTunnelOptions(primary, function)
        if not 0 < self["timeout"] <= MAX_TIMEOUT:
            raise usage.UsageError(
                f"--timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds"
            )
        self.primary = primary
        self.function = function

    def _checkTunnelOptions(self, primary: Primary, function: str) -> None:
        for letter, name in (("a", "tunnel-id"), ("n", "name")):
            value = self[name]
            if value is None:
                continue
            if primary.letter not in _TUNNEL_PRIMARIES:
                raise usage.UsageError(f"-{letter} goes with -k, -y and -m only")
            if not NAME_PATTERN.fullmatch(value):
                raise usage.UsageError(f"-{letter} {value!r} is not a valid name")
        if (primary.letter, function) in _TUNNEL_CONTROLS and (
            self["tunnel-id"] is None and self["name"] is None
        ):
            raise usage.UsageError(
                f"-{primary.letter} {function} needs the tunnel ID (-a) or the "
                "name (-n) of what to act on"
            )
        if self["cascade"] and (primary.letter, function) != ("k", "display"):
            raise usage.UsageError("-e goes with -k display only")
        if self["iked"] and (primary.letter, function) != ("y", "display"):
            raise usage.UsageError("-b goes with -y display only")

    @property
    def daemon(self) -> str:
        """The daemon that answers: nssd for C{-x} and C{-z}, else iked."""
        if self["client"] is not None:
            return "nssd"
        return self.primary.daemon

    @property
    def target(self) -> str:
        """
        NMsMTarget: the client of C{-z}, else the stack of C{-p}, else
        blank (iked's first stack).
        """
        return str(self["client"] or self["stack"] or "")


# Talking to the daemon.


@dataclass
class _Context:
    """What a report needs to ask and to print."""

    reactor: Any
    options: IpsecOptions
    stdout: TextIO
    stderr: TextIO
    now: Callable[[], float]
    localtime: Callable[[float], time.struct_time]

    @property
    def path(self) -> str:
        socket: str | None = self.options["socket"]
        return socket or SOCKETS[self.options.daemon]

    def problem(self, text: str) -> None:
        self.stderr.write(f"{PROGRAM}: {text}\n")


def _codes(error: NmiError) -> str:
    text = f"{error.returnCode.name} ({error.returnCode.value}) "
    text += f"{error.reasonCode.name} ({error.reasonCode.value})"
    if error.lines:
        text += ": " + "; ".join(error.lines)
    return text


async def _ask(
    context: _Context,
    messageType: NmiMessageType,
    target: str = "",
    records: Sequence[NmiRecord] = (),
) -> NmiMessage | int:
    """
    Send one request and wait for its successful reply.

    @return: the reply, or the exit status after the problem was reported:
        2 when no daemon answered on the socket, 1 when the daemon refused
        or failed the request, or went away during it.
    """
    daemon, path = context.options.daemon, context.path
    timeout: float = context.options["timeout"]
    reactor = context.reactor
    endpoint = UNIXClientEndpoint(reactor, path, timeout=max(1, round(timeout)))
    try:
        protocol: NmiClientProtocol = await endpoint.connect(NmiClientFactory())
    except ConnectError as error:
        reason = error.args[0] if error.args else str(error)
        if error.osError == errno.EACCES:
            reason = describe_denied(path)
        context.problem(f"cannot connect to {daemon} at {path}: {reason}")
        return EXIT_USAGE
    name = messageType.ibmName
    try:
        try:
            await protocol.ready.addTimeout(timeout, reactor)
        except TimeoutError:
            context.problem(
                f"{daemon} at {path} did not send INIT within "
                f"{counted(timeout, 'second')}"
            )
            return EXIT_USAGE
        except NmiTerminated as error:
            context.problem(f"{daemon} at {path} ended the connection: {_codes(error)}")
            return EXIT_REFUSED
        except NmiConnectionLost as error:
            context.problem(
                f"{daemon} at {path} closed the connection before INIT: {error}"
            )
            return EXIT_USAGE
        try:
            reply: NmiMessage = await protocol.request(
                messageType, target, records
            ).addTimeout(timeout, reactor)
        except TimeoutError:
            context.problem(
                f"{daemon} did not answer {name} within {counted(timeout, 'second')}"
            )
            return EXIT_REFUSED
        except NmiTerminated as error:
            context.problem(f"{daemon} ended the connection: {_codes(error)}")
            return EXIT_REFUSED
        except NmiConnectionLost as error:
            context.problem(f"{daemon} closed the connection during {name}: {error}")
            return EXIT_REFUSED
        except NmiError as error:
            context.problem(f"{daemon} refused {name}: {_codes(error)}")
            return EXIT_REFUSED
        return reply
    finally:
        protocol.close()
        # Wait for the close, so that nothing of ours outlives the call.
        await protocol.terminated


def _unreadable(
    context: _Context, messageType: NmiMessageType, error: FieldDecodeError
) -> int:
    context.problem(
        f"{context.options.daemon} sent a {messageType.ibmName} reply that "
        f"cannot be read: {error.detail}"
    )
    return EXIT_REFUSED


def _print(context: _Context, data: dict[str, Any], lines: list[str]) -> int:
    if context.options["json"]:
        context.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        context.stdout.write("".join(f"{line}\n" for line in lines))
    return EXIT_OK


async def _stack_nss_display(context: _Context) -> int:
    reply = await _ask(context, NmiMessageType.GET_IKENSINFO)
    if isinstance(reply, int):
        return reply
    try:
        systemName, infos = decode_ikensinfo_reply(reply)
    except FieldDecodeError as error:
        return _unreadable(context, NmiMessageType.GET_IKENSINFO, error)
    return _print(
        context,
        stack_nss_json(systemName, infos),
        stack_nss_report(systemName, infos, context.now(), context.localtime),
    )


async def _nss_server_display(context: _Context) -> int:
    # A blank target and no filter record: every connected IPSec client,
    # as IBM's ipsec -x asks.
    reply = await _ask(context, NmiMessageType.GET_CLIENTINFO)
    if isinstance(reply, int):
        return reply
    try:
        systemName, infos = decode_clientinfo_reply(reply)
    except FieldDecodeError as error:
        return _unreadable(context, NmiMessageType.GET_CLIENTINFO, error)
    return _print(
        context,
        nss_server_json(systemName, infos),
        nss_server_report(systemName, infos, context.now(), context.localtime),
    )


async def _filter_display(context: _Context) -> int:
    options = context.options
    scope = options.filterScope
    messageType = _FILTER_REQUESTS[scope]
    reply = await _ask(context, messageType, options.target)
    if isinstance(reply, int):
        return reply
    try:
        report = decode_filter_report(reply)
    except FieldDecodeError as error:
        return _unreadable(context, messageType, error)
    return _print(
        context,
        filter_json(report, scope),
        filter_report(
            report,
            context.now(),
            scope=scope,
            clientName=options["client"],
            localtime=context.localtime,
        ),
    )


async def _filter_switch(context: _Context) -> int:
    options = context.options
    messageType = _FILTER_SWITCHES[options.function]
    reply = await _ask(context, messageType, options.target)
    if isinstance(reply, int):
        return reply
    try:
        controls = decode_control_reply(reply)
    except FieldDecodeError as error:
        return _unreadable(context, messageType, error)
    _print(
        context,
        filter_control_json(options.function, controls),
        filter_control_report(controls),
    )
    # The table is printed either way; a stack that has no such set (a
    # reload without a policy) did not switch, which a script must see.
    if any(c.status not in _SWITCHED for c in controls):
        return EXIT_REFUSED
    return EXIT_OK


_TUNNEL_DISPLAYS = {
    "k": NmiMessageType.GET_IKETUN,
    "y": NmiMessageType.GET_IPTUNDYNSTACK,
    "m": NmiMessageType.GET_IPTUNMANUAL,
}


async def _tunnel_display(context: _Context) -> int:
    options = context.options
    letter = options.primary.letter
    messageType = _TUNNEL_DISPLAYS[letter]
    if options["cascade"]:
        messageType = NmiMessageType.GET_IKETUNCASCADE
    if options["iked"]:
        messageType = NmiMessageType.GET_IPTUNDYNIKE
    reply = await _ask(context, messageType, options.target)
    if isinstance(reply, int):
        return reply
    try:
        report = decode_tunnel_report(reply)
    except FieldDecodeError as error:
        return _unreadable(context, messageType, error)
    selection = {
        "primary": letter,
        "cascade": bool(options["cascade"]),
        "fromIked": bool(options["iked"]),
        "tunnelId": options["tunnel-id"],
        "name": options["name"],
    }
    return _print(
        context,
        tunnel_json(report, now=context.now(), **selection),
        tunnel_report(
            report,
            context.now(),
            clientName=options["client"],
            localtime=context.localtime,
            **selection,
        ),
    )


async def _tunnel_control(context: _Context) -> int:
    options = context.options
    letter, function = options.primary.letter, options.function
    messageType = _TUNNEL_CONTROLS[letter, function]
    records = control_records(
        messageType,
        False,
        [TunnelControl(options["name"] or "", options["tunnel-id"] or "")],
    )
    reply = await _ask(context, messageType, options.target, records)
    if isinstance(reply, int):
        return reply
    try:
        controls = decode_control_reply(reply)
    except FieldDecodeError as error:
        return _unreadable(context, messageType, error)
    _print(
        context,
        tunnel_control_json(letter, function, controls),
        tunnel_control_report(controls),
    )
    # As for -f: the table is printed either way, and a tunnel not found
    # (or not acted on) is exit 1.
    if not controls or any(c.status not in _SWITCHED for c in controls):
        return EXIT_REFUSED
    return EXIT_OK


def _stack_display(
    messageType: NmiMessageType,
    decode: Callable[[NmiMessage], tuple[str, Sequence[Any]]],
    asJson: Callable[[str, Sequence[Any]], Any],
    report: Callable[..., list[str]],
) -> Callable[[_Context], Awaitable[int]]:
    """
    A display of one of a stack's tables (C{-i}, C{-o}): ask, decode, print.
    """

    async def display(context: _Context) -> int:
        options = context.options
        reply = await _ask(context, messageType, options.target)
        if isinstance(reply, int):
            return reply
        try:
            stackName, entries = decode(reply)
        except FieldDecodeError as error:
            return _unreadable(context, messageType, error)
        return _print(
            context,
            asJson(stackName, entries),
            report(
                stackName,
                entries,
                context.now(),
                clientName=options["client"],
                localtime=context.localtime,
            ),
        )

    return display


_interface_display = _stack_display(
    NmiMessageType.GET_IPINTERFACES,
    decode_interfaces_reply,
    interface_json,
    interface_report,
)
_port_translation_display = _stack_display(
    NmiMessageType.GET_PORTTRAN,
    decode_porttran_reply,
    port_translation_json,
    port_translation_report,
)


_REPORTS: dict[tuple[str, str], Callable[[_Context], Awaitable[int]]] = {
    ("w", "display"): _stack_nss_display,
    ("x", "display"): _nss_server_display,
    ("f", "display"): _filter_display,
    ("f", "default"): _filter_switch,
    ("f", "reload"): _filter_switch,
    ("k", "display"): _tunnel_display,
    ("y", "display"): _tunnel_display,
    ("m", "display"): _tunnel_display,
    ("i", "display"): _interface_display,
    ("o", "display"): _port_translation_display,
    **dict.fromkeys(_TUNNEL_CONTROLS, _tunnel_control),
}
"""What each implemented (primary, function) does."""


async def run(
    reactor: Any,
    argv: list[str],
    stdout: TextIO,
    stderr: TextIO,
    *,
    now: Callable[[], float] = time.time,
    localtime: Callable[[float], time.struct_time] = time.localtime,
) -> int:
    """
    Run the command and return its exit status instead of exiting, so that
    tests and other commands can call it.

    @param reactor: provides C{IReactorUNIX} and C{IReactorTime}.
    @param argv: the arguments, without the program name.
    @param now: the clock the heading's date comes from.
    @param localtime: the time zone of the report's dates.
    @return: 0 when the report was printed, 1 when the daemon refused or
        failed the request (or went away, or answered nonsense), 2 for a
        usage error or when no daemon answered on the socket.
    """
    # Twisted's usage module carries no annotations.
    options = IpsecOptions()  # type: ignore[no-untyped-call]
    try:
        options.parseOptions(argv)  # type: ignore[no-untyped-call]
    except Finished as finished:
        stdout.write(finished.text)
        return EXIT_OK
    except usage.UsageError as error:
        stderr.write(f"{PROGRAM}: {error} (see {PROGRAM} --help)\n")
        return EXIT_USAGE
    context = _Context(reactor, options, stdout, stderr, now, localtime)
    return await _REPORTS[options.primary.letter, options.function](context)


def main(argv: list[str] | None = None) -> NoReturn:
    """
    The console-script entry point: run the command and exit with its status.
    """
    arguments = sys.argv[1:] if argv is None else argv

    async def command(reactor: Any) -> None:
        raise SystemExit(await run(reactor, arguments, sys.stdout, sys.stderr))

    task.react(command)
