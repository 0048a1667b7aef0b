"""Privacy helpers: phone numbers never reach a log in clear."""
from __future__ import annotations

import re

_DIGITS = re.compile(r"\+?\d{7,}")


def mask_number(number: str | None) -> str:
    """``13812345678`` -> ``138****5678``; short or odd values are masked whole."""
    if not number:
        return "-"
    n = str(number)
    if len(n) >= 7:
        return n[:3] + "*" * 4 + n[-4:]
    return "*" * len(n)


def mask_text(text: str) -> str:
    """Mask every run of 7 or more digits inside free text (SIP URIs, headers)."""
    return _DIGITS.sub(lambda m: mask_number(m.group(0)), text)
