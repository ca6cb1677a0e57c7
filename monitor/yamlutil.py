"""YAML loading that remembers where every key and value stood, for precise error messages.

``load_yaml(text, path)`` returns the data (built by PyYAML's safe constructor, so dates become
``datetime.date``) and a :class:`LineMap`. Addresses are tuples of keys and list indexes, e.g.
``("criteria", 2, "query")``. Positions are 1-based ``(line, column)``.

Decisions:

* Syntax errors become ``error_cls(message, path, line)`` with the line of the YAML mark; the
  column is set on :class:`~monitor.errors.RuleError` (and its subclasses), and written into
  the message for a plain :class:`~monitor.errors.ConfigError`, which has no column field.
* A mapping that repeats a key is an error (PyYAML silently keeps the last one), reported at the
  second occurrence.
* Only one YAML document per file; an empty file loads as ``None``.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from monitor.errors import ConfigError, RuleError

Address = tuple[Hashable, ...]
Position = tuple[int, int]


@dataclass
class LineMap:
    """Where each value (and each mapping key) of a loaded YAML document stands."""

    values: dict[Address, Position] = field(default_factory=dict)
    keys: dict[Address, Position] = field(default_factory=dict)
    nodes: dict[Address, Node] = field(default_factory=dict)

    def position(self, *address: Hashable) -> Position | None:
        """``(line, column)`` of the value at ``address`` (a list element, a key's value)."""
        return self.values.get(address)

    def key_position(self, *address: Hashable) -> Position | None:
        """``(line, column)`` of the mapping key that ``address`` ends with."""
        return self.keys.get(address)

    def line(self, *address: Hashable) -> int | None:
        """Line of the value at ``address``, or of the closest enclosing value that has one."""
        while True:
            found = self.values.get(address)
            if found is not None:
                return found[0]
            if not address:
                return None
            address = address[:-1]

    def key_line(self, *address: Hashable) -> int | None:
        """Line of the key ``address`` ends with, falling back to :meth:`line`."""
        found = self.keys.get(address)
        return found[0] if found is not None else self.line(*address)

    def node(self, *address: Hashable) -> Node | None:
        """The YAML node of a value (its ``style`` tells how a scalar was quoted)."""
        return self.nodes.get(address)


def make_error(
    error_cls: type[ConfigError],
    message: str,
    path: str,
    line: int | None,
    column: int | None = None,
) -> ConfigError:
    """Build ``error_cls`` with a column when the class has one, else with it in the message."""
    if issubclass(error_cls, RuleError):
        return error_cls(message, path, line, column)
    if column is not None:
        message = f"{message} (column {column})"
    return error_cls(message, path, line)


def load_yaml(
    text: str, path: str, error_cls: type[ConfigError] = RuleError
) -> tuple[Any, LineMap]:
    """Parse one YAML document; raise ``error_cls`` with ``path:line:column`` when it is bad."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        lines = LineMap()
        if root is None:
            return None, lines
        _record(root, (), lines, path, error_cls)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        message = f"invalid YAML: {problem}"
        if mark is None:
            raise make_error(error_cls, message, path, None) from e
        raise make_error(error_cls, message, path, mark.line + 1, mark.column + 1) from e
    except yaml.YAMLError as e:
        raise make_error(error_cls, f"invalid YAML: {e}", path, None) from e
    finally:
        loader.dispose()
    return data, lines


def _position(node: Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _record(
    node: Node, address: Address, lines: LineMap, path: str, error_cls: type[ConfigError]
) -> None:
    lines.values[address] = _position(node)
    lines.nodes[address] = node
    if isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _record(item, (*address, index), lines, path, error_cls)
    elif isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else repr(key_node.value)
            child = (*address, key)
            if child in lines.keys:
                line, column = _position(key_node)
                raise make_error(error_cls, f"duplicate key {key!r}", path, line, column)
            lines.keys[child] = _position(key_node)
            _record(value_node, child, lines, path, error_cls)
