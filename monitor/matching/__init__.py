"""Pure matching: items x criteria -> matches. Text preparation lives in :mod:`.text`."""

from monitor.matching.text import Document, tokenize

__all__ = ["Document", "tokenize"]
