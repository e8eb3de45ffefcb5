"""
The bridge between a stack's statistics and interfaces and the NMI
records of L{nsstwisted.wire.stackinfo}: what iked answers to
C{NMsec_GET_SUMMARY}, C{NMsec_GET_IPINTERFACES} (C{ipsec -i}) and
C{NMsec_GET_PORTTRAN} (C{ipsec -o}), locally and through nssd.

Port translations exist only with NAT traversal, which iked does not do
yet, so GET_PORTTRAN is answered with a stack record and no entries: an
empty table, which is the truth, rather than a refusal.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from nsstwisted.iked.stackmodel.statistics import StackStatistics
from nsstwisted.wire import stackinfo as wire
from nsstwisted.wire.codes import ReasonCode, ReturnCode
from nsstwisted.wire.nmi import NmiMessage, NmiMessageType

__all__ = ["STACK_REQUESTS", "answer_stack_request"]

STACK_REQUESTS = wire.STACK_REQUESTS
"""The requests L{answer_stack_request} answers."""


def answer_stack_request(
    request: NmiMessage,
    stackName: str,
    statistics: StackStatistics,
    interfaces: Iterable[wire.InterfaceInfo] = (),
) -> NmiMessage:
    """
    Answer GET_SUMMARY, GET_IPINTERFACES or GET_PORTTRAN for one stack.

    @param stackName: the stack that answers, as the reply names it.
    @param statistics: the stack's counters (GET_SUMMARY).
    @param interfaces: the stack's interface addresses, already read
        (GET_IPINTERFACES; an L{nsstwisted.iked.stackmodel.interfaces.InterfaceReader}
        gives them).  Ignored for the other two.
    @return: the reply; C{EINVAL} C{NSSRsnBadField} for a request that
        carries records (these requests take none, as GET_IKENSINFO), and
        C{EIO} C{NSSRsnServerError} if the data could not be encoded.
    @raise ValueError: C{request} is not one of the three requests.
    """
    kind = request.messageType
    if kind not in STACK_REQUESTS or request.reply:
        raise ValueError(f"{request!r} is not a stack request")
    ibmName = NmiMessageType(kind).ibmName
    if request.records:
        return request.refuse(
            ReturnCode.EINVAL, ReasonCode.NSSRsnBadField, f"{ibmName} takes no records"
        )
    try:
        if kind == NmiMessageType.GET_SUMMARY:
            return wire.encode_summary_reply(request, stackName, statistics.snapshot())
        if kind == NmiMessageType.GET_IPINTERFACES:
            return wire.encode_interfaces_reply(request, stackName, _unique(interfaces))
        return wire.encode_porttran_reply(request, stackName, [])
    except ValueError as e:
        return request.refuse(
            ReturnCode.EIO, ReasonCode.NSSRsnServerError, f"{ibmName}: {e}"
        )


def _unique(interfaces: Iterable[wire.InterfaceInfo]) -> list[wire.InterfaceInfo]:
    """
    The addresses without repeats (an address an interface holds twice,
    which the wire refuses), in their order.
    """
    seen: set[tuple[str, str]] = set()
    kept = []
    for info in interfaces:
        key = (info.interfaceName, str(ipaddress.ip_address(info.address)))
        if key not in seen:
            seen.add(key)
            kept.append(info)
    return kept
