"""
Counts in the text that operators read: C{1 second}, C{2 seconds}.

The daemons' messages, the commands' and the protocols' texts all say a
count the same way, and never C{1 seconds} or C{request(s)}: this lives in
C{wire}, the lowest layer they all share.  The reports of C{nss-ipsec} keep
IBM's last line, C{1 entries selected} included, so that scripts written
for IBM's reports read ours.
"""

from __future__ import annotations

__all__ = ["counted"]


def counted(number: float, noun: str, plural: str | None = None) -> str:
    """
    C{number} and C{noun}, in the plural (C{plural}, or C{noun} with an
    C{s}) unless the number is one.  Whole numbers are written without a
    fraction (C{2.0} seconds are C{2 seconds}), others as short as they go.
    """
    if isinstance(number, float) and not number.is_integer():
        text = f"{number:g}"
    else:
        text = str(int(number))
    if text == "1":
        return f"1 {noun}"
    return f"{text} {plural or noun + 's'}"
