"""Rule files: one thesis and its criteria per YAML file (load, validate, write).

Format (every field; unknown fields are errors at any level)::

    thesis:
      id: rosa-del-mar-81-lossy-self-improvement   # required; lower-case letters, digits, - _ .
                                                   #   unique across all loaded rule files
      title: Lossy-Self-Improvement Vs ...         # required; non-empty text
      date: 2026-03-22                             # optional; the brief's date, YYYY-MM-DD
      source_brief: rosa-del-mar-...-81.txt        # optional; the brief file it came from
      automatic: true                              # optional, default false; written by the
                                                   #   importer: semantic evidence may fire a
                                                   #   criterion without a query hit. Remove it
                                                   #   once the queries are hand-tuned.
      read_throughs:                               # optional; list of texts
        - AI progress may look more linear ...
    groups:                                        # optional; named term groups of this file
      frontier_labs: [OpenAI, Anthropic, "Google DeepMind"]
                               # name: letters, digits, '_' (not a digit first); a non-empty
                               #   list of entries, each one word, phrase (an entry with
                               #   spaces is a phrase), wildcard or "proximity phrase"~N.
                               #   Any query of the file may use $frontier_labs, meaning
                               #   (OpenAI OR Anthropic OR "Google DeepMind").
    criteria:                                      # required; a non-empty list
      - id: confirm-1          # required; lower-case letters, digits, - _ . ; unique in the file.
                               #   An id starting with a polarity and "-" ("kill-2") must
                               #   start with its own polarity.
        polarity: confirm      # required; confirm | kill | watch
        text: Real world ...   # required; the criterion sentence shown in alerts
        query: '"field experiment" OR productivity'   # required; see monitor.rules.query
        threshold: 0.5         # optional number >= 0 (default 0): minimum match score
        examples:              # optional; list of texts that are evidence for the criterion
          - A randomized trial at 40 firms found ...   #   (semantic scoring learns from them)
        counter_examples:      # optional; list of near misses that are not evidence
          - Vendor survey says ...

Decisions:

* :func:`load_rule_file` raises the first problem; :func:`check_rule_files` collects every
  problem of every file (several per file where they are independent) and duplicate thesis ids
  across files, so ``monitor check`` can list them all at once.
* Errors carry ``file:line[:column]``: the key's line for unknown fields, the value's line for
  wrong values, the enclosing key's (or list entry's) line for missing fields. A query syntax
  error points at the offending character (one-line queries, and ``|``/``>`` blocks without
  blank lines); an error inside a group entry points into that entry, a ``$name`` that no
  group defines at its ``$``. A query using a group whose definition has errors is not
  reported again.
* Groups belong to the file, not to the thesis (:class:`~monitor.types.Thesis` has no place for
  them): a loaded criterion's ``query`` is the written query with every ``$name`` expanded
  (:func:`~monitor.rules.query.expand_groups`), so every consumer of ``Criterion.query``
  parses it without knowing the groups, and :func:`dump_rule_file` writes expanded queries.
* Criteria keep the line of their list entry (``Criterion.line``); the thesis keeps its file
  (``Thesis.path``).
* :func:`dump_rule_file` writes block-style YAML that :func:`load_rule_file` reads back to the
  same thesis: long texts and queries folded (``>-``), ``threshold`` only when not 0,
  ``examples``/``counter_examples`` only when not empty.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import ScalarNode

from monitor.errors import QuerySyntaxError, RuleError
from monitor.rules.query import GROUP_NAME_RE, expand_groups, parse_group_entry, parse_query
from monitor.types import POLARITIES, Criterion, Polarity, Thesis
from monitor.yamlutil import LineMap, load_yaml

logger = logging.getLogger(__name__)

RULE_FILE_SUFFIXES = (".yaml", ".yml")
TOP_FIELDS = ("thesis", "groups", "criteria")
TOP_REQUIRED = ("thesis", "criteria")
THESIS_FIELDS = ("id", "title", "date", "source_brief", "read_throughs", "automatic")
THESIS_REQUIRED = ("id", "title")
CRITERION_FIELDS = (
    "id",
    "polarity",
    "text",
    "query",
    "threshold",
    "examples",
    "counter_examples",
)
CRITERION_REQUIRED = ("id", "polarity", "text", "query")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_GROUP_USE_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


# --------------------------------------------------------------------------------- validation


@dataclass
class _Checker:
    """Validates one loaded rule file, collecting every error instead of stopping."""

    path: str
    lines: LineMap
    errors: list[RuleError] = field(default_factory=list)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    broken_groups: set[str] = field(default_factory=set)

    def fail(self, message: str, address: tuple[Hashable, ...], *, at_key: bool = False) -> None:
        found = self.lines.key_position(*address) if at_key else None
        if found is None:
            found = self.lines.position(*address)
        if found is None:
            line = self.lines.line(*address)
            self.errors.append(RuleError(message, self.path, line))
        else:
            self.errors.append(RuleError(message, self.path, found[0], found[1]))

    def mapping(
        self,
        value: Any,
        address: tuple[Hashable, ...],
        name: str,
        allowed: Sequence[str],
        required: Sequence[str],
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.fail(f"{name} must be a mapping of fields, got {_kind(value)}", address)
            return None
        for key in value:
            if key not in allowed:
                self.fail(
                    f"{name}: unknown field {key!r} (allowed: {', '.join(allowed)})",
                    (*address, key),
                    at_key=True,
                )
        for key in required:
            if value.get(key) is None:
                self.fail(f"{name}: missing required field {key!r}", address, at_key=True)
        return {k: v for k, v in value.items() if k in allowed}

    def text(
        self, value: Any, address: tuple[Hashable, ...], name: str, *, slug: bool = False
    ) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{name} must be non-empty text, got {_kind(value)}", address)
            return None
        if slug and not _ID_RE.match(value):
            self.fail(
                f"{name} {value!r} must use lower-case letters, digits, '-', '_' or '.'", address
            )
            return None
        return value.strip()

    def thesis(self, value: Any) -> dict[str, Any] | None:
        fields = self.mapping(value, ("thesis",), "thesis", THESIS_FIELDS, THESIS_REQUIRED)
        if fields is None:
            return None
        result: dict[str, Any] = {
            "id": self.text(fields.get("id"), ("thesis", "id"), "thesis.id", slug=True),
            "title": self.text(fields.get("title"), ("thesis", "title"), "thesis.title"),
            "source_brief": self.text(
                fields.get("source_brief"), ("thesis", "source_brief"), "thesis.source_brief"
            ),
            "date": self.date(fields.get("date"), ("thesis", "date")),
            "read_throughs": self.texts(
                fields.get("read_throughs"), ("thesis", "read_throughs"), "thesis.read_throughs"
            ),
            "automatic": self.flag(fields.get("automatic"), ("thesis", "automatic")),
        }
        return result

    def flag(self, value: Any, address: tuple[Hashable, ...]) -> bool:
        if value is None:
            return False
        if not isinstance(value, bool):
            self.fail(f"{'.'.join(map(str, address))} must be true or false", address)
            return False
        return value

    def date(self, value: Any, address: tuple[Hashable, ...]) -> date | None:
        if value is None or (isinstance(value, date) and not hasattr(value, "hour")):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.fail(f"thesis.date must be a date written YYYY-MM-DD, got {value!r}", address)
        return None

    def texts(self, value: Any, address: tuple[Hashable, ...], name: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail(f"{name} must be a list of texts, got {_kind(value)}", address)
            return ()
        found = (self.text(v, (*address, i), f"{name}[{i}]") for i, v in enumerate(value))
        return tuple(t for t in found if t is not None)

    def criteria(self, value: Any) -> list[Criterion]:
        if value is None:
            return []
        if not isinstance(value, list) or not value:
            self.fail(f"criteria must be a non-empty list, got {_kind(value)}", ("criteria",))
            return []
        seen: dict[str, int | None] = {}
        found: list[Criterion] = []
        for index, entry in enumerate(value):
            criterion = self.criterion(entry, index)
            if criterion is None:
                continue
            if criterion.id in seen:
                where = seen[criterion.id]
                self.fail(
                    f"criteria[{index}]: duplicate criterion id {criterion.id!r}"
                    + (f" (first at line {where})" if where else ""),
                    ("criteria", index, "id"),
                )
                continue
            seen[criterion.id] = criterion.line
            found.append(criterion)
        return found

    def criterion(self, entry: Any, index: int) -> Criterion | None:
        address: tuple[Hashable, ...] = ("criteria", index)
        name = f"criteria[{index}]"
        fields = self.mapping(entry, address, name, CRITERION_FIELDS, CRITERION_REQUIRED)
        if fields is None:
            return None
        before = len(self.errors)
        cid = self.text(fields.get("id"), (*address, "id"), f"{name}.id", slug=True)
        text = self.text(fields.get("text"), (*address, "text"), f"{name}.text")
        polarity = self.polarity(fields.get("polarity"), (*address, "polarity"), name)
        query = self.query(fields.get("query"), (*address, "query"), name)
        threshold = self.threshold(fields.get("threshold"), (*address, "threshold"), name)
        examples = self.texts(fields.get("examples"), (*address, "examples"), f"{name}.examples")
        counter_examples = self.texts(
            fields.get("counter_examples"),
            (*address, "counter_examples"),
            f"{name}.counter_examples",
        )
        if cid is not None and polarity is not None:
            for other in POLARITIES:
                if other != polarity and cid.startswith(f"{other}-"):
                    self.fail(
                        f"{name}.id {cid!r} starts with {other!r} but its polarity is {polarity!r}",
                        (*address, "id"),
                    )
        if len(self.errors) > before or None in (cid, text, polarity, query):
            return None
        assert cid is not None and text is not None and polarity is not None
        assert query is not None
        return Criterion(
            id=cid,
            polarity=polarity,
            text=text,
            query=query,
            threshold=threshold,
            line=self.lines.line(*address),
            examples=examples,
            counter_examples=counter_examples,
        )

    def polarity(self, value: Any, address: tuple[Hashable, ...], name: str) -> Polarity | None:
        if value is None:
            return None
        for polarity in POLARITIES:
            if value == polarity:
                return polarity
        self.fail(f"{name}.polarity must be one of {', '.join(POLARITIES)}, got {value!r}", address)
        return None

    def threshold(self, value: Any, address: tuple[Hashable, ...], name: str) -> float:
        if value is None:
            return 0.0
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            self.fail(f"{name}.threshold must be a number >= 0, got {value!r}", address)
            return 0.0
        return float(value)

    def query(self, value: Any, address: tuple[Hashable, ...], name: str) -> str | None:
        query = self.text(value, address, f"{name}.query")
        if query is None:
            return None
        assert isinstance(value, str)
        try:
            parse_query(value, self.groups)
        except QuerySyntaxError as e:
            if not self.broken_groups.intersection(_GROUP_USE_RE.findall(value)):
                line, column = _query_position(self.lines, address, e.position)
                self.errors.append(RuleError(f"{name}.query: {e}", self.path, line, column))
            return None
        return expand_groups(value, self.groups) if "$" in value else value

    def group_definitions(self, value: Any) -> None:
        """Validate ``groups:``; keep the valid ones in ``groups``, the others' names in
        ``broken_groups``."""
        if value is None:
            return
        if not isinstance(value, dict):
            self.fail(
                f"groups must be a mapping of names to lists, got {_kind(value)}", ("groups",)
            )
            return
        for name, entries in value.items():
            address: tuple[Hashable, ...] = ("groups", name)
            if not isinstance(name, str) or not GROUP_NAME_RE.fullmatch(name):
                self.fail(
                    f"group name {name!r} must be letters, digits and '_', not starting "
                    "with a digit",
                    address,
                    at_key=True,
                )
                continue
            if not isinstance(entries, list) or not entries:
                self.fail(f"groups.{name} must be a non-empty list, got {_kind(entries)}", address)
                self.broken_groups.add(name)
                continue
            valid = [self.group_entry(name, index, e) for index, e in enumerate(entries)]
            if None in valid:
                self.broken_groups.add(name)
            else:
                self.groups[name] = tuple(e for e in valid if e is not None)

    def group_entry(self, name: str, index: int, entry: Any) -> str | None:
        address: tuple[Hashable, ...] = ("groups", name, index)
        if not isinstance(entry, str) or not entry.strip():
            self.fail(f"groups.{name}[{index}] must be non-empty text, got {_kind(entry)}", address)
            return None
        try:
            parse_group_entry(entry)
        except QuerySyntaxError as e:
            line, column = _query_position(self.lines, address, e.position)
            self.errors.append(RuleError(f"groups.{name}[{index}]: {e}", self.path, line, column))
            return None
        return entry


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _query_position(
    lines: LineMap, address: tuple[Hashable, ...], offset: int
) -> tuple[int | None, int | None]:
    """Map an offset inside a query string to the file's 1-based line and column."""
    node = lines.node(*address)
    line = lines.line(*address)
    if not isinstance(node, ScalarNode):
        return line, None
    start, end = node.start_mark, node.end_mark
    source = start.buffer
    if node.style in (None, "'", '"') and start.line == end.line and source is not None:
        raw = source[start.index : end.index]
        quoted = node.style is not None
        return start.line + 1, start.column + 1 + int(quoted) + _raw_offset(raw, offset, node)
    if node.style in ("|", ">") and source is not None:
        return _block_position(
            source.split("\n")[start.line + 1 : end.line + 1], start.line, offset
        )
    return line, None


def _block_position(
    content_lines: list[str], before: int, offset: int
) -> tuple[int | None, int | None]:
    """Position in a ``|``/``>`` block whose lines each add their text plus one separator.

    Holds for blocks without blank or more-indented lines (what people write for a query).
    """
    if not content_lines:
        return before + 1, None
    first = content_lines[0]
    indent = len(first) - len(first.lstrip(" "))
    for number, source_line in enumerate(content_lines, start=before + 2):
        text = source_line[indent:].rstrip()
        if offset <= len(text):
            return number, indent + offset + 1
        offset -= len(text) + 1
    return before + 1, None


def _raw_offset(raw: str, offset: int, node: ScalarNode) -> int:
    """Offset in the written scalar (quotes excluded) of the value's ``offset``-th character."""
    if node.style is None:
        return offset
    body = raw[1:-1]
    index = 0
    for _ in range(offset):
        if index >= len(body):
            break
        if (node.style == "'" and body.startswith("''", index)) or (
            node.style == '"' and body[index] == "\\"
        ):
            index += 2
        else:
            index += 1
    return index


# ------------------------------------------------------------------------------------ loading


def _load(path: Path) -> tuple[Thesis | None, list[RuleError], LineMap | None]:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return None, [RuleError(f"cannot read rule file: {e}", name)], None
    try:
        data, lines = load_yaml(text, name, RuleError)
    except RuleError as e:
        return None, [e], None
    checker = _Checker(name, lines)
    if not isinstance(data, dict):
        checker.fail(
            f"a rule file must be a mapping with 'thesis' and 'criteria', got {_kind(data)}", ()
        )
        return None, checker.errors, lines
    top = checker.mapping(data, (), "rule file", TOP_FIELDS, TOP_REQUIRED) or {}
    thesis = checker.thesis(top.get("thesis")) if "thesis" in top else None
    checker.group_definitions(top.get("groups"))
    criteria = checker.criteria(top.get("criteria"))
    if checker.errors or thesis is None:
        return None, checker.errors, lines
    return (
        Thesis(
            id=thesis["id"],
            title=thesis["title"],
            criteria=tuple(criteria),
            read_throughs=thesis["read_throughs"],
            date=thesis["date"],
            source_brief=thesis["source_brief"],
            path=name,
            automatic=thesis["automatic"],
        ),
        [],
        lines,
    )


def load_rule_file(path: Path) -> Thesis:
    """Load and validate one rule file; raise the first :class:`RuleError` found."""
    thesis, errors, _ = _load(path)
    if errors:
        raise errors[0]
    assert thesis is not None
    return thesis


def check_rule_files(paths: Sequence[Path]) -> tuple[list[Thesis], list[RuleError]]:
    """Load every file, returning the valid theses and every problem found (in file order).

    A thesis whose id an earlier file already used is reported and left out.
    """
    theses: list[Thesis] = []
    errors: list[RuleError] = []
    first_file: dict[str, str] = {}
    for path in paths:
        thesis, found, lines = _load(path)
        errors.extend(found)
        if thesis is None:
            continue
        if thesis.id in first_file:
            line = lines.line("thesis", "id") if lines is not None else None
            errors.append(
                RuleError(
                    f"duplicate thesis id {thesis.id!r}, already used by {first_file[thesis.id]}",
                    str(path),
                    line,
                )
            )
            continue
        first_file[thesis.id] = str(path)
        theses.append(thesis)
    logger.debug(
        "checked %d rule files: %d theses, %d errors", len(paths), len(theses), len(errors)
    )
    return theses, errors


def expand_rule_paths(entries: Sequence[Path]) -> list[Path]:
    """Files as given, folders as their ``*.yaml``/``*.yml`` files (sorted, not recursive).

    Duplicates are dropped, keeping the first; a missing entry raises :class:`RuleError`.
    """
    found: list[Path] = []
    for entry in entries:
        if entry.is_dir():
            found.extend(
                sorted(p for p in entry.iterdir() if p.is_file() and p.suffix in RULE_FILE_SUFFIXES)
            )
        elif entry.is_file():
            found.append(entry)
        else:
            raise RuleError("no such rule file or folder", str(entry))
    return list(dict.fromkeys(found))


# ------------------------------------------------------------------------------------ writing


class _Folded(str):
    """A text that the dumper writes as a folded block scalar."""


class _RuleDumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    if isinstance(value, _Folded):
        return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style=">")
    return dumper.represent_str(value)


_RuleDumper.add_representer(str, _represent_text)
_RuleDumper.add_representer(_Folded, _represent_text)

_FOLD_AT = 80


def _prose(text: str) -> str:
    """Long single-line text folds; text with line breaks, edge or double spaces stays quoted."""
    if len(text) > _FOLD_AT and "\n" not in text and text == text.strip() and "  " not in text:
        return _Folded(text)
    return text


def _dump(value: Any, width: int = _FOLD_AT + 10) -> str:
    return yaml.dump(
        value,
        Dumper=_RuleDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=width,
    )


def _indent(text: str, by: str) -> str:
    return "".join(f"{by}{line}\n" for line in text.splitlines())


def dump_rule_file(thesis: Thesis) -> str:
    """The rule file of ``thesis`` as YAML text (``load_rule_file`` reads it back unchanged)."""
    head: dict[str, Any] = {"id": thesis.id, "title": thesis.title}
    if thesis.date is not None:
        head["date"] = thesis.date
    if thesis.source_brief is not None:
        head["source_brief"] = thesis.source_brief
    if thesis.automatic:
        head["automatic"] = True
    if thesis.read_throughs:
        head["read_throughs"] = [_prose(t) for t in thesis.read_throughs]
    parts = [
        f"# Rule file for thesis {thesis.id}. Polarity: confirm | kill | watch.\n"
        '# Queries: words (stemmed), "phrases", prefix*, "a b"~5, a NEAR/5 b, title:word,\n'
        "# AND, OR, NOT, -term, (groups), $groups (see monitor.rules.query).\n\n",
        _dump({"thesis": head}),
        "\ncriteria:\n",
    ]
    for number, criterion in enumerate(thesis.criteria):
        entry: dict[str, Any] = {
            "id": criterion.id,
            "polarity": criterion.polarity,
            "text": _prose(criterion.text),
        }
        entry["query"] = _prose(criterion.query)
        if criterion.threshold:
            entry["threshold"] = criterion.threshold
        if criterion.examples:
            entry["examples"] = [_prose(t) for t in criterion.examples]
        if criterion.counter_examples:
            entry["counter_examples"] = [_prose(t) for t in criterion.counter_examples]
        block = _dump([entry])
        parts.append(("\n" if number else "") + _indent(block, "  "))
    return "".join(parts)
