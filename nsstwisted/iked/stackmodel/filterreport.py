"""
The bridge between a stack's filter model and the NMI filter records: what
iked answers to C{ipsec -f}, locally and through nssd.
"""

from __future__ import annotations

from nsstwisted.iked.stackmodel.filters import FilterRule, FilterSet, StackFilters
from nsstwisted.wire import filters as wire
from nsstwisted.wire.nmi import NmiMessage, NmiMessageType

_SETS = {
    NmiMessageType.GET_IPFLTDEFAULT: FilterSet.DEFAULT,
    NmiMessageType.GET_IPFLTPOLICY: FilterSet.POLICY,
}
_SWITCHES = {
    NmiMessageType.SET_IPFLTDEFAULT: FilterSet.DEFAULT,
    NmiMessageType.SET_IPFLTPOLICY: FilterSet.POLICY,
}


def filter_record(rule: FilterRule, filterSet: FilterSet) -> wire.FilterRecordInfo:
    """
    One rule as the wire carries it.  The record has no name extension or
    TCP qualifier, so the report shows neither.
    """
    return wire.FilterRecordInfo(
        filterName=rule.name,
        filterSet=wire.FilterSet(int(filterSet)),
        filterType=wire.FilterType[rule.type.name],
        state=wire.FilterState[rule.state.name],
        action=wire.FilterAction[rule.action.name],
        direction=wire.FilterDirection[rule.direction.name],
        logging=wire.FilterLogging[rule.logging.name],
        protocol=rule.protocol or 0,
        scope=wire.FilterScope[rule.scope.name],
        sourceAddress=str(rule.sourceAddress.network_address),
        sourcePrefix=rule.sourceAddress.prefixlen,
        destinationAddress=str(rule.destinationAddress.network_address),
        destinationPrefix=rule.destinationAddress.prefixlen,
        sourcePorts=(rule.sourcePorts.low, rule.sourcePorts.high)
        if rule.sourcePorts
        else (0, 0),
        destinationPorts=(rule.destinationPorts.low, rule.destinationPorts.high)
        if rule.destinationPorts
        else (0, 0),
    )


def answer_filter_request(
    request: NmiMessage, stackName: str, filters: StackFilters
) -> NmiMessage:
    """
    Answer GET_IPFLTCURR/DEFAULT/POLICY or SET_IPFLTDEFAULT/POLICY for one
    stack.
    """
    kind = request.messageType
    if kind in _SWITCHES:
        outcome = filters.switch(_SWITCHES[NmiMessageType(kind)])
        return wire.answer_filter_set(
            request, stackName, wire.TunnelStatus(int(outcome))
        )
    wanted = _SETS.get(NmiMessageType(kind), filters.currentSet)
    rules = {
        FilterSet.DEFAULT: filters.default,
        FilterSet.POLICY: filters.policy,
    }[wanted]()
    return wire.encode_filter_reply(
        request,
        stackName,
        wire.FilterSet(int(filters.currentSet)),
        [filter_record(rule, wanted) for rule in rules],
    )
