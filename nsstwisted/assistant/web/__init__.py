"""
C{nss-assistant serve}'s web page: the description edited in a browser, on
twisted.web, as plain server-rendered forms.  This is the only part of the
assistant that imports Twisted; the draft it edits, validates, previews and
saves goes through the assistant's sans-IO modules.
"""

from nsstwisted.assistant.web.draft import Draft, read_draft
from nsstwisted.assistant.web.protection import Guard
from nsstwisted.assistant.web.resources import AssistantResource
from nsstwisted.assistant.web.site import AssistantSite, serve

__all__ = [
    "AssistantResource",
    "AssistantSite",
    "Draft",
    "Guard",
    "read_draft",
    "serve",
]
