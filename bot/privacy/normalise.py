"""Text as people paste it (from Word, Outlook, a PDF) made plain for matching, with a map back to
the characters they wrote, so that a detail found in the plain text is cut from the original."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Everything that looks like a space, a dash or a quote is matched as the plain ASCII one.
SPACES = "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\t"
DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
PLAIN = str.maketrans({**dict.fromkeys(SPACES, " "), **dict.fromkeys(DASHES, "-"), "\u2018": "'", "\u2019": "'"})


@dataclass(frozen=True)
class Plain:
    """`text` made plain; `owner[i]` is the index in the original of the character text[i] came from."""

    text: str
    owner: tuple[int, ...]
    length: int  # of the original

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original characters behind text[start:end]."""
        if start >= end:
            at = self.owner[start] if start < len(self.owner) else self.length
            return at, at
        return self.owner[start], self.owner[end - 1] + 1


def plain(original: str) -> Plain:
    """NFKC, one character at a time so that every plain character knows where it came from."""
    out: list[str] = []
    owner: list[int] = []
    for i, char in enumerate(original):
        if char in INVISIBLE:
            continue
        made = unicodedata.normalize("NFKC", char).translate(PLAIN) if not char.isascii() else char
        out.append(made)
        owner.extend([i] * len(made))
    return Plain("".join(out), tuple(owner), len(original))
