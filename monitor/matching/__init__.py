"""Pure matching: items x criteria -> matches. Documents (text prepared for queries) live in
:mod:`.document`, query evaluation in :mod:`.evaluate`, the indexed many-query matcher in
:mod:`.keyword`, hybrid scores in :mod:`.scoring` and story dedupe in :mod:`.stories`. Words,
stems and stop words come from :mod:`monitor.text`."""

from monitor.matching.document import Document

__all__ = ["Document"]
