"""
Receiving RFC 7383 fragments: which ones an IKE SA may reassemble at all
(the window's message ID, after fragmentation was agreed), the answer to
a retransmitted fragmented request, and the operator's notice of a set
given up.  The codec and the reassembler's limits are
L{nsstwisted.ike.fragments}; sending in fragments is
L{nsstwisted.ike.enginebase.EngineBase._seal}.
"""

from __future__ import annotations

from nsstwisted.ike.enginebase import EngineBase
from nsstwisted.ike.errors import IkeDecodeError, IntegrityError
from nsstwisted.ike.events import Endpoint, FragmentDropped, ReassemblyAbandoned
from nsstwisted.ike.fragments import FragmentRefused, Reassembled, decode_fragment
from nsstwisted.ike.sa import IkeSa

__all__ = ["FragmentExchanges"]


class FragmentExchanges(EngineBase):
    """What the engine does with an SKF message."""

    def _fragment_in(
        self, sa: IkeSa, data: bytes, remote: Endpoint
    ) -> Reassembled | None:
        """
        Keep an RFC 7383 fragment; the whole message once all are in.

        Only fragments of the message ID the window allows reach the
        reassembler, so that nobody can make it hold anything else.  A
        fragment of a request we already answered is a retransmission:
        its fragment 1, once it verifies, gets our whole answer again, the
        others nothing (RFC 7383 section 2.6.1).
        """
        assert sa.receiveProtector is not None
        try:
            if not sa.fragmentation:
                raise FragmentRefused("IKE fragmentation was not negotiated")
            fragment = decode_fragment(data)
            header = fragment.header
            if header.isResponse:
                outstanding = sa.outstanding
                if outstanding is None or header.messageId != outstanding.messageId:
                    raise FragmentRefused(
                        f"a fragment of response {header.messageId} to no request"
                    )
            elif header.messageId == sa.lastResponseId and header.messageId > 0:
                # (IKE_SA_INIT, message ID 0, is never fragmented.)
                if fragment.number != 1:
                    return None
                try:
                    sa.receiveProtector.decrypt(fragment.prefix, fragment.body)
                except IntegrityError as error:
                    raise FragmentRefused(f"a resent fragment: {error}") from None
                self._send(sa, *sa.lastResponseDatagrams)
                return None
            elif header.messageId != sa.nextExpectedId or sa.processingId is not None:
                raise FragmentRefused(
                    f"a fragment of request {header.messageId}"
                    f" (expected {sa.nextExpectedId})"
                )
            return sa.reassembler.add(fragment, sa.receiveProtector, self._now)
        except IkeDecodeError as error:
            self._emit(FragmentDropped(remote, str(error)))
            return None
        finally:
            self._report_abandoned(sa)

    def _report_abandoned(self, sa: IkeSa) -> None:
        for gone in sa.reassembler.abandoned:
            self._emit(
                ReassemblyAbandoned(
                    sa,
                    gone.messageId,
                    gone.response,
                    gone.held,
                    gone.total,
                    gone.reason,
                )
            )
        sa.reassembler.abandoned.clear()
