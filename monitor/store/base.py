"""What the store's domain parts (deliveries, mutes, turns) may call of ``SqlStore``: one
declaration for the type checker, so each part stays a small mixin."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Table
    from sqlalchemy.engine import Connection

    from monitor.store.rows import AnyRow


class StorePart:
    """Base of the store's mixins; ``SqlStore`` provides these at run time."""

    if TYPE_CHECKING:
        _sqlite: bool

        def _transaction(
            self, action: str, *, write: bool = True
        ) -> AbstractContextManager[Connection]: ...

        def _insert_many(
            self,
            conn: Connection,
            table: Table,
            rows: Sequence[dict[str, Any]],
            returning: Sequence[ColumnElement[Any]] = (),
        ) -> list[AnyRow]: ...
