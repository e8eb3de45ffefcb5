"""
What iked holds for one stack besides its NSS connection: the IP filter
sets, the statistics and the way to read its interfaces.  The management
interface answers a stack's requests from this object, locally and when
nssd routes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from nsstwisted.iked.stackmodel.filters import StackFilters
from nsstwisted.iked.stackmodel.interfaces import InterfaceReader
from nsstwisted.iked.stackmodel.statistics import StackStatistics
from nsstwisted.iked.stackmodel.tunnels import StackTunnels


@dataclass
class StackModel:
    """
    @ivar name: the stack's name as configured.
    @ivar statistics: kept for iked's whole life, across refreshes, as IBM's
        cumulative counters are.
    @ivar tunnels: likewise kept, so that tunnel ID numbers are never
        reused within a run.
    """

    name: str
    filters: StackFilters
    statistics: StackStatistics
    interfaces: InterfaceReader
    tunnels: StackTunnels
