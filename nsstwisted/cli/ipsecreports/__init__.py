"""
The layouts of C{nss-ipsec}'s reports: IBM's heading lines, C{Name: value}
detail lines in one column, asterisk separators and C{N entries selected},
for every primary, and their JSON forms.  Kept apart from the command's
options and its conversation with the daemons, so that each can be read
(and changed) on its own: what the reports share in L{layout}, then one
module per report family (L{nssclients} for C{-w} and C{-x}, L{filters}
for C{-f}, L{tunnels} for C{-k}, C{-y} and C{-m}, L{stackinfo} for C{-i}
and C{-o}).  This module names what the command uses.
"""

from nsstwisted.cli.ipsecreports.filters import (
    filter_control_json,
    filter_control_report,
    filter_json,
    filter_report,
)
from nsstwisted.cli.ipsecreports.layout import (
    PRIMARIES,
    RELEASE,
    Primary,
    detail_lines,
    heading_lines,
)
from nsstwisted.cli.ipsecreports.nssclients import (
    nss_server_json,
    nss_server_report,
    stack_nss_json,
    stack_nss_report,
)
from nsstwisted.cli.ipsecreports.stackinfo import (
    interface_json,
    interface_report,
    port_translation_json,
    port_translation_report,
)
from nsstwisted.cli.ipsecreports.tunnels import (
    tunnel_control_json,
    tunnel_control_report,
    tunnel_json,
    tunnel_report,
)

__all__ = [
    "PRIMARIES",
    "RELEASE",
    "Primary",
    "detail_lines",
    "filter_control_json",
    "filter_control_report",
    "filter_json",
    "filter_report",
    "heading_lines",
    "interface_json",
    "interface_report",
    "nss_server_json",
    "nss_server_report",
    "port_translation_json",
    "port_translation_report",
    "stack_nss_json",
    "stack_nss_report",
    "tunnel_control_json",
    "tunnel_control_report",
    "tunnel_json",
    "tunnel_report",
]
