"""
Who may use the page: whoever opened the URL with the token that
C{nss-assistant serve} printed, in that browser, from the page itself.

The page edits a description from which RACF jobs and key files are made,
and it listens on a TCP port that every local user (and, with
C{--interface}, others) can reach, and that every web page open in the
operator's browser can send requests to.  So:

  - The token (printed once, at start) is the only way in.  Opening the URL
    with it starts a session: a random session ID in an C{HttpOnly},
    C{SameSite=Strict} cookie, which scripts cannot read and other sites'
    pages cannot make the browser send.  A request with neither gets 403
    (NSA0100E).  Session IDs are looked up by their SHA-256, so that the
    lookup's timing says nothing about a valid ID.
  - Every change is a POST carrying the session's own CSRF token, compared
    in constant time (NSA0101E), and a POST whose C{Origin} (or
    C{Sec-Fetch-Site}) says another site sent it is refused even before
    that (NSA0102E).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict

from twisted.web.server import Request

__all__ = ["COOKIE", "Guard"]

COOKIE = b"nss_assistant_session"
#: Sessions kept; opening the token URL more often than this forgets the
#: oldest, so that the table cannot grow without bound.
MAX_SESSIONS = 32


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


class Guard:
    """
    The access token and the sessions it opened.

    @ivar token: the secret part of the URL printed at start.
    """

    def __init__(self, token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(32)
        self._sessions: OrderedDict[bytes, str] = OrderedDict()

    def token_matches(self, given: str) -> bool:
        """
        Whether C{given} is the access token, compared in constant time.
        """
        return hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8"))

    def open_session(self, request: Request) -> str:
        """
        Start a session for the browser that brought the token: set its
        cookie, and return the session's CSRF token.
        """
        session = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        self._sessions[_digest(session)] = csrf
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        request.addCookie(
            COOKIE,
            session.encode("ascii"),
            path=b"/",
            httpOnly=True,
            sameSite="strict",
        )
        return csrf

    def csrf_of(self, request: Request) -> str | None:
        """
        The CSRF token of the request's session, or C{None} when it brings
        no cookie of a session this server opened.
        """
        cookie = request.getCookie(COOKIE)
        if not cookie:
            return None
        return self._sessions.get(_digest(cookie.decode("ascii", "replace")))

    @staticmethod
    def csrf_matches(csrf: str, given: str) -> bool:
        """
        Whether a form's CSRF field is its session's token, in constant time.
        """
        return hmac.compare_digest(csrf.encode("utf-8"), given.encode("utf-8"))

    @staticmethod
    def same_origin(request: Request) -> bool:
        """
        Whether a POST may come from this page: its C{Origin}, when the
        browser sends one, is this server's own (scheme, host and port of
        the C{Host} it was sent to), and C{Sec-Fetch-Site}, when sent, does
        not say another site.  A request without either (a command-line
        client) is left to the CSRF token.
        """
        site = request.getHeader(b"sec-fetch-site")
        if site is not None and site not in (b"same-origin", b"none"):
            return False
        origin = request.getHeader(b"origin")
        if origin is None:
            return True
        host = request.getHeader(b"host")
        return host is not None and hmac.compare_digest(origin, b"http://" + host)
