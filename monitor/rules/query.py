"""The boolean keyword query language of criteria (pure, parse only), Lucene-flavoured.

This module parses a query into a tree of nodes (:class:`Query`); what a tree means on a
document (evaluation, and the indexed matcher of many queries) belongs to the matching package,
which imports this one and never the other way round.

Syntax, by example::

    productivity                       a word; matches every word with the same English stem
                                       (productive, productivity, ...)
    "field experiment"                 a phrase: consecutive words, in this order (stemmed too)
    consolidat*                        a prefix: consolidate, consolidation, ... (not stemmed)
    "post-train* regression*"          wildcards may end any word of a phrase
    "compute deal"~5                   proximity: the words within a slop of 5 (see below)
    compute NEAR deal                  both within 10 positions of each other, in any order
    compute NEAR/5 "power deal"        ... within 5; operands are words, phrases, $groups
    title:restart                      fields: title, summary, source, tag; a bare term
    summary:"a phrase"  source:arxiv   searches title + summary
    tag:energy  title:(a OR b)         a field before ( ) applies to every term inside
    $frontier_labs                     a named group of the rule file, meaning
                                       (OpenAI OR Anthropic OR "Google DeepMind")
    lab AND consolidat*                both
    lab consolidat*                    both (adjacent terms are AND'ed)
    merger OR acquisition              either
    NOT rumor      -rumor              not (``-`` directly before a term, phrase, field or ``(``)
    (SMR OR "small modular") AND (delay* OR cancel*)

Decisions:

* Operators are the upper-case words ``AND``, ``OR``, ``NOT`` and ``NEAR``/``NEAR/n``; lower-case
  ``and``/``or``/``not``/``near`` are ordinary terms. Precedence: ``NEAR`` > ``NOT``/``-`` >
  ``AND`` (explicit or implicit) > ``OR``. ``NEAR`` joins exactly two operands; chain it with
  ``AND``.
* Matching is case-insensitive and by whole tokens (see :mod:`monitor.text`): a term is
  tokenised like the document, so ``lab`` does not match ``label`` and a term that splits into
  several tokens (``AI-driven``, ``R&D``) is matched as a phrase (``ai driven``, ``r d``).
* **Stemming:** plain words, and every plain word of a phrase, compare English Snowball stems
  (``restart`` meets ``restarts`` and ``restarted``; ``consolidating`` meets ``consolidation``).
  A wildcard compares the raw words instead: ``consolidat*`` is the way to say "this spelling".
* A wildcard ``*`` may only end a word, after a letter or digit, with a prefix of at least
  two characters. A lone ``*`` is an error. Fuzzy terms (``word~2``) are not supported.
* **Proximity** ``"a b c"~N`` follows Lucene's phrase slop: choose one position ``p_i`` for each
  word ``i`` (different positions); it matches when ``max(p_i - i) - min(p_i - i) <= N``. So
  ``~0`` is the exact phrase, ``"a b"~5`` allows up to five words between ``a`` and ``b`` in
  order, and reversed order costs 2 (``"b a"`` needs ``~2``). ``a NEAR/n b`` is simpler: the
  two operands do not overlap and the gap between their nearer ends is at most ``n``
  positions, in either order (adjacent words are 1 apart). Default ``n`` is 10.
* **Fields** (``title``, ``summary``, ``source``, ``tag``; case-insensitive) need documents built
  from an item; a document built from plain text is all summary. A phrase
  or proximity never spans two fields, nor two tags. An unknown field is an error at its name.
* **Groups** come from the rule file (``groups:``) through ``parse_query(text, groups)``. Each
  entry is one word, phrase (an entry with spaces is a phrase, quoted or not), wildcard or
  proximity phrase; no operators, fields or other groups. ``$name`` parses as the OR of its
  entries, and takes the field written before it. :func:`expand_groups` writes the same query
  without groups. A ``$`` followed by a letter or ``_`` always starts a group name (to match a
  cashtag ``$AAPL``, write ``AAPL``).
* Every query must be able to match on a positive term: ``NOT x`` alone, ``-a -b`` or
  ``a OR NOT b`` are rejected. Hence a document matching a query always contains one of
  :meth:`Query.positive_terms`, which makes candidate indexing by those terms safe.
* Matched terms are reported as written in the query without the field (a phrase without its
  quotes, whitespace collapsed, ``~N`` kept; a ``NEAR`` as ``a NEAR/10 b`` with the operands
  that met), deduplicated, in query order; terms under ``NOT`` are never reported. Every
  matching branch of an ``OR`` is reported, not only the first.
* Every error is a :class:`~monitor.errors.QuerySyntaxError` carrying the 0-based offset in the
  query text (for an error inside a group entry: the offset in that entry).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import NamedTuple

from monitor.errors import QuerySyntaxError
from monitor.text import stem, tokenize

MIN_PREFIX_LENGTH = 2
DEFAULT_NEAR_DISTANCE = 10
FIELDS = ("title", "summary", "source", "tag")
GROUP_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD_CHAR_RE = re.compile(r"[^\W_]")
_FIELD_RE = re.compile(r"([^\W\d_]+):")
_GROUP_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_NEAR_RE = re.compile(r"NEAR(?:/(\d*))?")
_SLOP_RE = re.compile(r"~(\d+)")
_OPERATORS = ("AND", "OR", "NOT")

Fail = Callable[[str, int], QuerySyntaxError]


class Word(NamedTuple):
    """One token of a term; ``prefix`` means it matches any token starting with ``token``."""

    token: str
    prefix: bool = False

    def __str__(self) -> str:
        return self.token + ("*" if self.prefix else "")


# --------------------------------------------------------------------------------------- nodes


class Node:
    """A node of a parsed query. ``start`` is its offset in the query text."""

    start: int

    def has_positive(self) -> bool:
        """True when the node cannot match without at least one positive term matching."""
        raise NotImplementedError

    def first_negative_only(self) -> Node | None:
        """The first sub-node that could match by absence alone (for error positions)."""
        return None if self.has_positive() else self

    def positive(self) -> Iterator[Term]:
        raise NotImplementedError


@dataclass(frozen=True)
class Term(Node):
    """A word, prefix or phrase (``slop`` > 0: a proximity phrase) in a field (None: title +
    summary). ``text`` is how the query wrote it, as reported in matched terms; ``keys`` holds
    per word its stem, or its raw prefix for a wildcard, with the wildcard flag."""

    text: str
    words: tuple[Word, ...]
    start: int
    field: str | None = None
    slop: int = 0
    keys: tuple[tuple[str, bool], ...] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = tuple((w.token if w.prefix else stem(w.token), w.prefix) for w in self.words)
        object.__setattr__(self, "keys", keys)

    def has_positive(self) -> bool:
        return True

    def positive(self) -> Iterator[Term]:
        yield self

    def __str__(self) -> str:
        head = f"{self.field}:" if self.field else ""
        if len(self.words) == 1:
            return head + str(self.words[0])
        tail = f"~{self.slop}" if self.slop else ""
        return head + '"' + " ".join(str(w) for w in self.words) + '"' + tail


@dataclass(frozen=True)
class Near(Node):
    """``left NEAR/distance right``; each side is one or more alternative words/phrases (a
    ``$group`` or a parenthesised OR of them), all in the same field."""

    left: tuple[Term, ...]
    right: tuple[Term, ...]
    distance: int
    start: int

    @property
    def field(self) -> str | None:
        return self.left[0].field

    def has_positive(self) -> bool:
        return True

    def positive(self) -> Iterator[Term]:
        yield from self.left
        yield from self.right

    def __str__(self) -> str:
        def side(terms: tuple[Term, ...]) -> str:
            inner = " OR ".join(str(t) for t in terms)
            return inner if len(terms) == 1 else f"({inner})"

        return f"{side(self.left)} NEAR/{self.distance} {side(self.right)}"


@dataclass(frozen=True)
class Not(Node):
    child: Node
    start: int

    def has_positive(self) -> bool:
        return False

    def positive(self) -> Iterator[Term]:
        return iter(())

    def __str__(self) -> str:
        return f"NOT {_wrap(self.child)}"


@dataclass(frozen=True)
class And(Node):
    children: tuple[Node, ...]
    start: int

    def has_positive(self) -> bool:
        return any(child.has_positive() for child in self.children)

    def positive(self) -> Iterator[Term]:
        for child in self.children:
            yield from child.positive()

    def __str__(self) -> str:
        return " AND ".join(_wrap(child) for child in self.children)


@dataclass(frozen=True)
class Or(Node):
    children: tuple[Node, ...]
    start: int

    def has_positive(self) -> bool:
        return all(child.has_positive() for child in self.children)

    def first_negative_only(self) -> Node | None:
        for child in self.children:
            found = child.first_negative_only()
            if found is not None:
                return found
        return None

    def positive(self) -> Iterator[Term]:
        for child in self.children:
            yield from child.positive()

    def __str__(self) -> str:
        return " OR ".join(_wrap(child) for child in self.children)


def _wrap(node: Node) -> str:
    return f"({node})" if isinstance(node, And | Or | Near) else str(node)


# ------------------------------------------------------------------------------------- the query


@dataclass(frozen=True)
class Query:
    """A parsed query. Build it with :func:`parse_query`; ``text`` is the source."""

    text: str
    root: Node

    @cached_property
    def _positive(self) -> tuple[Term, ...]:
        seen: dict[tuple[str | None, tuple[Word, ...], int], Term] = {}
        for term in self.root.positive():
            seen.setdefault((term.field, term.words, term.slop), term)
        return tuple(seen.values())

    def positive_terms(self) -> tuple[Term, ...]:
        """Terms under no NOT, deduplicated: a matching document contains at least one."""
        return self._positive

    @property
    def positive_count(self) -> int:
        """How many distinct positive terms the query has (the denominator of a term share)."""
        return len(self._positive)

    def __str__(self) -> str:
        """A canonical form: lower-case tokens, explicit operators, parentheses where needed."""
        return str(self.root)


# ------------------------------------------------------------------------------------- the lexer


class Kind(Enum):
    WORD = "word"
    PHRASE = "phrase"
    FIELD = "field"
    GROUP = "group"
    LPAREN = "("
    RPAREN = ")"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    NEAR = "NEAR"
    MINUS = "-"
    END = "end"


@dataclass(frozen=True)
class _Token:
    """``text``: the word, phrase content, field or group name; ``number``: slop or distance."""

    kind: Kind
    text: str
    pos: int
    number: int = 0


def _ends_token(query: str, index: int) -> bool:
    return index >= len(query) or query[index].isspace() or query[index] in "()"


def _lex(query: str, fail: Fail) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token(Kind.LPAREN if char == "(" else Kind.RPAREN, char, i))
            i += 1
        elif char == '"':
            token, i = _lex_phrase(query, i, fail)
            tokens.append(token)
        elif char == "-":
            if i + 1 == n or query[i + 1].isspace() or query[i + 1] == ")":
                raise fail("'-' must be followed directly by a term, phrase or '('", i)
            tokens.append(_Token(Kind.MINUS, char, i))
            i += 1
        elif (group := _GROUP_RE.match(query, i)) is not None:
            if not _ends_token(query, group.end()) and query[group.end()] != '"':
                raise fail("a group name is letters, digits and '_' only", group.end())
            tokens.append(_Token(Kind.GROUP, group[1], i))
            i = group.end()
        elif (named := _FIELD_RE.match(query, i)) is not None:
            name = named[1].lower()
            if name not in FIELDS:
                raise fail(f"unknown field {named[1]!r} (fields: {', '.join(FIELDS)})", i)
            after = named.end()
            if after == n or query[after].isspace() or query[after] == ")":
                raise fail(f"'{named[0]}' must be followed directly by a term, phrase or '('", i)
            tokens.append(_Token(Kind.FIELD, name, i))
            i = named.end()
        else:
            start = i
            while i < n and not query[i].isspace() and query[i] not in '()"':
                i += 1
            tokens.append(_lex_word(query[start:i], start, fail))
    tokens.append(_Token(Kind.END, "", n))
    return tokens


def _lex_phrase(query: str, i: int, fail: Fail) -> tuple[_Token, int]:
    end = query.find('"', i + 1)
    if end == -1:
        raise fail("unterminated phrase: '\"' is never closed", i)
    after = end + 1
    if after < len(query) and query[after] == "~":
        slop = _SLOP_RE.match(query, after)
        if slop is None:
            raise fail("'~' after a phrase needs a number of positions, like \"a b\"~5", after)
        if not _ends_token(query, slop.end()):
            raise fail("'~N' must be followed by a space or a parenthesis", slop.end())
        return _Token(Kind.PHRASE, query[i + 1 : end], i, int(slop[1])), slop.end()
    return _Token(Kind.PHRASE, query[i + 1 : end], i), after


def _lex_word(word: str, start: int, fail: Fail) -> _Token:
    if word in _OPERATORS:
        return _Token(Kind[word], word, start)
    near = _NEAR_RE.fullmatch(word)
    if near is None:
        return _Token(Kind.WORD, word, start)
    if near[1] is None:
        return _Token(Kind.NEAR, word, start, DEFAULT_NEAR_DISTANCE)
    if not near[1] or int(near[1]) < 1:
        raise fail("NEAR/ needs a distance of at least 1, like NEAR/5", start)
    return _Token(Kind.NEAR, word, start, int(near[1]))


def _words_of(written: str, pos: int, fail: Fail) -> tuple[Word, ...]:
    """Tokenise one whitespace-free word of the query; a trailing ``*`` marks a prefix."""
    tilde = written.find("~")
    if tilde != -1:
        raise fail(
            'fuzzy terms (word~N) are not supported; for proximity quote the words: "a b"~N',
            pos + tilde,
        )
    star = written.find("*")
    if star != -1 and star != len(written) - 1:
        raise fail("'*' is only allowed at the end of a word", pos + star)
    if written == "*":
        raise fail("a lone '*' matches nothing: put it after a word prefix", pos)
    base = written[:-1] if star != -1 else written
    if star != -1 and not _WORD_CHAR_RE.match(base[-1]):
        raise fail("'*' must directly follow a letter or digit", pos + star)
    tokens = tokenize(base)
    if not tokens:
        raise fail(f"{written!r} has no letters or digits", pos)
    if star != -1 and len(tokens[-1]) < MIN_PREFIX_LENGTH:
        raise fail(
            f"wildcard prefix {tokens[-1]!r} is too short "
            f"(at least {MIN_PREFIX_LENGTH} characters)",
            pos,
        )
    words = [Word(token) for token in tokens]
    if star != -1:
        words[-1] = Word(tokens[-1], prefix=True)
    return tuple(words)


def _term(token: _Token, field: str | None, fail: Fail) -> Term:
    if token.kind is Kind.WORD:
        return Term(token.text, _words_of(token.text, token.pos, fail), token.pos, field)
    content = token.text
    if not content.strip():
        raise fail("empty phrase", token.pos)
    words: list[Word] = []
    for match in re.finditer(r"\S+", content):
        words.extend(_words_of(match.group(), token.pos + 1 + match.start(), fail))
    slop = token.number if len(words) > 1 else 0
    text = " ".join(content.split()) + (f"~{slop}" if slop else "")
    return Term(text, tuple(words), token.pos, field, slop)


# ------------------------------------------------------------------------------------ the parser

_STARTS_OPERAND = frozenset(
    {Kind.WORD, Kind.PHRASE, Kind.FIELD, Kind.GROUP, Kind.LPAREN, Kind.NOT, Kind.MINUS}
)
_AFTER_FIELD = frozenset({Kind.WORD, Kind.PHRASE, Kind.GROUP, Kind.LPAREN})


class _Parser:
    """Recursive descent over the tokens. ``groups`` None: parsing a group entry."""

    def __init__(
        self, query: str, groups: Mapping[str, Sequence[str]] | None, fail: Fail | None = None
    ) -> None:
        self.query = query
        self.groups = groups
        self.fail: Fail = fail or (lambda message, pos: QuerySyntaxError(message, query, pos))
        self.tokens = _lex(query, self.fail)
        self.index = 0
        self.field: str | None = None
        self._parsed_groups: dict[str, tuple[Term, ...]] = {}

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        if self.peek().kind is Kind.END:
            raise self.fail("empty query", 0)
        node = self.or_expr()
        token = self.peek()
        if token.kind is Kind.RPAREN:
            raise self.fail("unbalanced parenthesis: ')' has no matching '('", token.pos)
        if token.kind is Kind.NEAR:
            raise self.fail(
                "NEAR joins two words or phrases; chain it with AND: a NEAR b AND b NEAR c",
                token.pos,
            )
        assert token.kind is Kind.END, token
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.peek().kind is Kind.OR:
            self.advance()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children), children[0].start)

    def and_expr(self) -> Node:
        children = [self.unary()]
        while True:
            kind = self.peek().kind
            if kind is Kind.AND:
                self.advance()
            elif kind not in _STARTS_OPERAND:
                break
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(tuple(children), children[0].start)

    def unary(self) -> Node:
        token = self.peek()
        if token.kind in (Kind.NOT, Kind.MINUS):
            self.advance()
            return Not(self.unary(), token.pos)
        return self.near()

    def near(self) -> Node:
        left = self.primary()
        operator = self.peek()
        if operator.kind is not Kind.NEAR:
            return left
        self.advance()
        right = self.primary()
        if self.peek().kind is Kind.NEAR:
            raise self.fail(
                "NEAR joins two words or phrases; chain it with AND: a NEAR b AND b NEAR c",
                self.peek().pos,
            )
        left_terms, right_terms = self._near_operand(left), self._near_operand(right)
        if len({t.field for t in left_terms + right_terms}) > 1:
            raise self.fail("both sides of NEAR must search the same field", operator.pos)
        return Near(left_terms, right_terms, operator.number, left.start)

    def _near_operand(self, node: Node) -> tuple[Term, ...]:
        terms = _alternatives(node)
        if terms is None:
            raise self.fail(
                "a NEAR operand must be a word, a phrase, a $group or (a OR b) of those",
                node.start,
            )
        for term in terms:
            if term.slop:
                raise self.fail('a proximity phrase ("a b"~N) cannot be a NEAR operand', node.start)
        return terms

    def primary(self) -> Node:
        token = self.advance()
        if token.kind in (Kind.WORD, Kind.PHRASE):
            return _term(token, self.field, self.fail)
        if token.kind is Kind.GROUP:
            return self._group(token)
        if token.kind is Kind.FIELD:
            return self._field(token)
        if token.kind is Kind.LPAREN:
            if self.peek().kind is Kind.RPAREN:
                raise self.fail("empty parentheses", token.pos)
            node = self.or_expr()
            closing = self.advance()
            if closing.kind is Kind.NEAR:
                raise self.fail(
                    "NEAR joins two words or phrases; chain it with AND: a NEAR b AND b NEAR c",
                    closing.pos,
                )
            if closing.kind is not Kind.RPAREN:
                raise self.fail("unbalanced parenthesis: '(' is never closed", token.pos)
            return node
        raise self._missing_operand(token)

    def _field(self, token: _Token) -> Node:
        if self.groups is None:
            raise self.fail(
                "a group entry cannot name a field: put it before the $group", token.pos
            )
        if self.field is not None:
            raise self.fail(f"field '{token.text}:' inside field '{self.field}:'", token.pos)
        if self.peek().kind not in _AFTER_FIELD:
            raise self.fail(
                f"'{token.text}:' must be followed directly by a term, phrase or '('", token.pos
            )
        self.field = token.text
        try:
            return self.primary()
        finally:
            self.field = None

    def _group(self, token: _Token) -> Node:
        name = token.text
        if self.groups is None:
            raise self.fail("a group entry cannot use another group", token.pos)
        if name not in self._parsed_groups:
            if name not in self.groups:
                defined = ", ".join(f"${g}" for g in self.groups) or "none"
                raise self.fail(
                    f"undefined group ${name} (defined: {defined}; to match the text, drop the $)",
                    token.pos,
                )
            entries: list[Term] = []
            for number, entry in enumerate(self.groups[name], 1):
                try:
                    entries.append(parse_group_entry(entry))
                except QuerySyntaxError as e:
                    raise self.fail(f"group ${name}, entry {number}: {e}", token.pos) from e
            if not entries:
                raise self.fail(f"group ${name} has no entries", token.pos)
            self._parsed_groups[name] = tuple(entries)
        terms = tuple(
            dataclasses.replace(t, field=self.field, start=token.pos)
            for t in self._parsed_groups[name]
        )
        return terms[0] if len(terms) == 1 else Or(terms, token.pos)

    def _missing_operand(self, token: _Token) -> QuerySyntaxError:
        before = self.tokens[self.index - 2] if self.index >= 2 else None
        if before is None:
            if token.kind is Kind.RPAREN:
                return self.fail("unbalanced parenthesis: ')' has no matching '('", token.pos)
            return self.fail(f"the query cannot start with {token.text!r}", token.pos)
        if before.kind is Kind.LPAREN:
            if token.kind is Kind.END:
                return self.fail("unbalanced parenthesis: '(' is never closed", before.pos)
            return self.fail(f"{token.text!r} cannot follow '('", token.pos)
        if token.kind in (Kind.END, Kind.RPAREN):
            return self.fail(f"{before.text!r} has no term after it", before.pos)
        return self.fail(f"{token.text!r} cannot follow {before.text!r}", token.pos)


def _alternatives(node: Node) -> tuple[Term, ...] | None:
    """The terms of a node that is a term or an OR of terms (nested ORs included), else None."""
    if isinstance(node, Term):
        return (node,)
    if isinstance(node, Or):
        found: list[Term] = []
        for child in node.children:
            terms = _alternatives(child)
            if terms is None:
                return None
            found.extend(terms)
        return tuple(found)
    return None


# ------------------------------------------------------------------------------------- groups


def group_entry_source(entry: str) -> tuple[str, int]:
    """The query text of a group entry and how many characters were added before it: an entry
    with spaces and no quotes is a phrase (``Google DeepMind`` -> ``"Google DeepMind"``)."""
    stripped = entry.strip()
    if stripped and any(c.isspace() for c in stripped) and '"' not in stripped:
        return f'"{entry}"', 1
    return entry, 0


def parse_group_entry(entry: str) -> Term:
    """Parse one entry of a ``groups:`` list: a word, phrase, wildcard or proximity phrase.

    Errors are positioned in ``entry``.
    """
    source, shift = group_entry_source(entry)

    def fail(message: str, pos: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, entry, min(max(pos - shift, 0), max(len(entry) - 1, 0)))

    if not entry.strip():
        raise fail("empty group entry", 0)
    node = _Parser(source, None, fail).parse()
    if not isinstance(node, Term):
        raise fail(
            "a group entry is one word, phrase or wildcard, without operators "
            "(make each alternative its own entry)",
            node.start,
        )
    return node


def expand_groups(text: str, groups: Mapping[str, Sequence[str]]) -> str:
    """``text`` with every ``$name`` replaced by ``(entry OR entry ...)``: the same query
    without groups. Raises QuerySyntaxError like :func:`parse_query`."""
    parse_query(text, groups)
    pieces: list[str] = []
    last = 0
    for token in _lex(text, lambda message, pos: QuerySyntaxError(message, text, pos)):
        if token.kind is not Kind.GROUP:
            continue
        entries = " OR ".join(group_entry_source(e)[0].strip() for e in groups[token.text])
        pieces.append(text[last : token.pos])
        pieces.append(f"({entries})")
        last = token.pos + 1 + len(token.text)
    pieces.append(text[last:])
    return "".join(pieces)


# ---------------------------------------------------------------------------------- parse_query


MAX_NESTING = 32


def _check_nesting(text: str) -> None:
    """Refuse parentheses nested deeper than MAX_NESTING (outside quotes) before parsing."""
    depth = 0
    quoted = False
    for position, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
            if depth > MAX_NESTING:
                raise QuerySyntaxError(
                    f"parentheses nest deeper than {MAX_NESTING} levels", text, position
                )
        elif not quoted and char == ")":
            depth = max(0, depth - 1)


def parse_query(text: str, groups: Mapping[str, Sequence[str]] | None = None) -> Query:
    """Parse ``text`` into a :class:`Query`; raise ``QuerySyntaxError`` with the offset.

    ``groups`` maps group names (without ``$``) to their entries (see :func:`parse_group_entry`).
    """
    _check_nesting(text)
    try:
        root = _Parser(text, groups if groups is not None else {}).parse()
    except RecursionError as error:  # e.g. a thousand NOTs in a row
        raise QuerySyntaxError("query is nested too deeply", text, 0) from error
    negative = root.first_negative_only()
    if negative is not None:
        raise QuerySyntaxError(
            "a query cannot match on NOT alone: add a term that must be present",
            text,
            negative.start,
        )
    return Query(text, root)
