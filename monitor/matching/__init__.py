"""Pure matching: items x criteria -> matches. Text preparation lives in :mod:`.text`, the
indexed many-query matcher in :mod:`.keyword` (import it from there: it depends on
:mod:`monitor.rules.query`, which depends on :mod:`.text`, so this package does not
re-export it)."""

from monitor.matching.text import Document, stem, tokenize

__all__ = ["Document", "stem", "tokenize"]
