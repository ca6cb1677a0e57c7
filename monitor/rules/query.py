"""The boolean keyword query language of criteria (pure).

Syntax, by example::

    productivity                       a word
    "field experiment"                 a phrase: consecutive words, in this order
    consolidat*                        a prefix: consolidate, consolidation, ...
    "post-train* regression*"          wildcards may end any word of a phrase
    lab AND consolidat*                both
    lab consolidat*                    both (adjacent terms are AND'ed)
    merger OR acquisition              either
    NOT rumor      -rumor              not (``-`` directly before a term, phrase or ``(``)
    (SMR OR "small modular") AND (delay* OR cancel*)

Decisions:

* Operators are the upper-case words ``AND``, ``OR`` and ``NOT``; lower-case ``and``/``or``/``not``
  are ordinary terms. Precedence: ``NOT``/``-`` > ``AND`` (explicit or implicit) > ``OR``.
* Matching is case-insensitive and by whole tokens (see :mod:`monitor.matching.text`): a term is
  tokenised like the document, so ``lab`` does not match ``label`` and a term that splits into
  several tokens (``AI-driven``, ``R&D``) is matched as a phrase (``ai driven``, ``r d``).
* A wildcard ``*`` may only end a word, after a letter or digit, with a prefix of at least
  two characters. A lone ``*`` is an error.
* Every query must be able to match on a positive term: ``NOT x`` alone, ``-a -b`` or
  ``a OR NOT b`` are rejected. Hence a document matching a query always contains one of
  :meth:`Query.positive_terms`, which makes candidate indexing by those terms safe.
* Matched terms are reported as written in the query (a phrase without its quotes, whitespace
  collapsed), deduplicated, in query order; terms under ``NOT`` are never reported. Every
  matching branch of an ``OR`` is reported, not only the first.
* Every error is a :class:`~monitor.errors.QuerySyntaxError` carrying the 0-based offset in the
  query text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from monitor.errors import QuerySyntaxError
from monitor.matching.text import Document, tokenize

MIN_PREFIX_LENGTH = 2
_WORD_CHAR_RE = re.compile(r"[^\W_]")
_OPERATORS = ("AND", "OR", "NOT")


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

    def collect(self, doc: Document, out: list[str]) -> bool:
        """True if the node matches ``doc``; appends the matched terms to ``out`` when it does."""
        raise NotImplementedError

    def matches(self, doc: Document) -> bool:
        raise NotImplementedError

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
    """A word, prefix or phrase. ``text`` is how the query wrote it."""

    text: str
    words: tuple[Word, ...]
    start: int

    def matches(self, doc: Document) -> bool:
        words = self.words
        if len(words) == 1:
            token, prefix = words[0]
            return doc.has_prefix(token) if prefix else token in doc.token_set
        return _phrase_in(doc, words)

    def collect(self, doc: Document, out: list[str]) -> bool:
        if self.matches(doc):
            out.append(self.text)
            return True
        return False

    def has_positive(self) -> bool:
        return True

    def positive(self) -> Iterator[Term]:
        yield self

    def __str__(self) -> str:
        if len(self.words) == 1:
            return str(self.words[0])
        return '"' + " ".join(str(w) for w in self.words) + '"'


@dataclass(frozen=True)
class Not(Node):
    child: Node
    start: int

    def matches(self, doc: Document) -> bool:
        return not self.child.matches(doc)

    def collect(self, doc: Document, out: list[str]) -> bool:
        return not self.child.matches(doc)

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

    def matches(self, doc: Document) -> bool:
        return all(child.matches(doc) for child in self.children)

    def collect(self, doc: Document, out: list[str]) -> bool:
        found: list[str] = []
        for child in self.children:
            if not child.collect(doc, found):
                return False
        out.extend(found)
        return True

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

    def matches(self, doc: Document) -> bool:
        return any(child.matches(doc) for child in self.children)

    def collect(self, doc: Document, out: list[str]) -> bool:
        matched = False
        for child in self.children:
            matched = child.collect(doc, out) or matched
        return matched

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
    return f"({node})" if isinstance(node, And | Or) else str(node)


def _phrase_in(doc: Document, words: tuple[Word, ...]) -> bool:
    for token, prefix in words:
        if not prefix and token not in doc.token_set:
            return False
    first, rest = words[0], words[1:]
    if first.prefix:
        starts: list[int] = []
        for token in doc.tokens_with_prefix(first.token):
            starts.extend(doc.positions[token])
    else:
        starts = list(doc.positions.get(first.token, ()))
    tokens = doc.tokens
    last_start = len(tokens) - len(words)
    for start in starts:
        if start > last_start:
            continue
        for offset, (token, prefix) in enumerate(rest, start + 1):
            actual = tokens[offset]
            if not (actual.startswith(token) if prefix else actual == token):
                break
        else:
            return True
    return False


# ------------------------------------------------------------------------------------- the query


@dataclass(frozen=True)
class Query:
    """A parsed query. Build it with :func:`parse_query`; ``text`` is the source."""

    text: str
    root: Node

    def evaluate(self, doc: Document) -> tuple[str, ...] | None:
        """The matched terms (as written, deduplicated, in query order), or None: no match."""
        found: list[str] = []
        if not self.root.collect(doc, found):
            return None
        return tuple(dict.fromkeys(found))

    def matches(self, doc: Document) -> bool:
        """Like :meth:`evaluate` but short-circuits and reports no terms."""
        return self.root.matches(doc)

    def positive_terms(self) -> tuple[Term, ...]:
        """Terms under no NOT, deduplicated: a matching document contains at least one."""
        seen: dict[tuple[Word, ...], Term] = {}
        for term in self.root.positive():
            seen.setdefault(term.words, term)
        return tuple(seen.values())

    def __str__(self) -> str:
        """A canonical form: lower-case tokens, explicit operators, parentheses where needed."""
        return str(self.root)


# ------------------------------------------------------------------------------------- the lexer


class Kind(Enum):
    WORD = "word"
    PHRASE = "phrase"
    LPAREN = "("
    RPAREN = ")"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    MINUS = "-"
    END = "end"


@dataclass(frozen=True)
class _Token:
    kind: Kind
    text: str
    pos: int


def _lex(query: str) -> list[_Token]:
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
            end = query.find('"', i + 1)
            if end == -1:
                raise QuerySyntaxError("unterminated phrase: '\"' is never closed", query, i)
            tokens.append(_Token(Kind.PHRASE, query[i + 1 : end], i))
            i = end + 1
        elif char == "-" and (i + 1 == n or query[i + 1].isspace() or query[i + 1] == ")"):
            raise QuerySyntaxError(
                "'-' must be followed directly by a term, phrase or '('", query, i
            )
        elif char == "-":
            tokens.append(_Token(Kind.MINUS, char, i))
            i += 1
        else:
            start = i
            while i < n and not query[i].isspace() and query[i] not in '()"':
                i += 1
            word = query[start:i]
            kind = Kind[word] if word in _OPERATORS else Kind.WORD
            tokens.append(_Token(kind, word, start))
    tokens.append(_Token(Kind.END, "", n))
    return tokens


def _words_of(query: str, written: str, pos: int) -> tuple[Word, ...]:
    """Tokenise one whitespace-free word of the query; a trailing ``*`` marks a prefix."""
    star = written.find("*")
    if star != -1 and star != len(written) - 1:
        raise QuerySyntaxError("'*' is only allowed at the end of a word", query, pos + star)
    if written == "*":
        raise QuerySyntaxError("a lone '*' matches nothing: put it after a word prefix", query, pos)
    base = written[:-1] if star != -1 else written
    if star != -1 and not _WORD_CHAR_RE.match(base[-1]):
        raise QuerySyntaxError("'*' must directly follow a letter or digit", query, pos + star)
    tokens = tokenize(base)
    if not tokens:
        raise QuerySyntaxError(f"{written!r} has no letters or digits", query, pos)
    if star != -1 and len(tokens[-1]) < MIN_PREFIX_LENGTH:
        raise QuerySyntaxError(
            f"wildcard prefix {tokens[-1]!r} is too short "
            f"(at least {MIN_PREFIX_LENGTH} characters)",
            query,
            pos,
        )
    words = [Word(token) for token in tokens]
    if star != -1:
        words[-1] = Word(tokens[-1], prefix=True)
    return tuple(words)


def _term(query: str, token: _Token) -> Term:
    if token.kind is Kind.WORD:
        return Term(token.text, _words_of(query, token.text, token.pos), token.pos)
    content = token.text
    if not content.strip():
        raise QuerySyntaxError("empty phrase", query, token.pos)
    words: list[Word] = []
    for match in re.finditer(r"\S+", content):
        words.extend(_words_of(query, match.group(), token.pos + 1 + match.start()))
    return Term(" ".join(content.split()), tuple(words), token.pos)


# ------------------------------------------------------------------------------------ the parser

_STARTS_OPERAND = frozenset({Kind.WORD, Kind.PHRASE, Kind.LPAREN, Kind.NOT, Kind.MINUS})


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = _lex(query)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def error(self, message: str, pos: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.query, pos)

    def parse(self) -> Node:
        if self.peek().kind is Kind.END:
            raise self.error("empty query", 0)
        node = self.or_expr()
        token = self.peek()
        if token.kind is Kind.RPAREN:
            raise self.error("unbalanced parenthesis: ')' has no matching '('", token.pos)
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
        return self.primary()

    def primary(self) -> Node:
        token = self.advance()
        if token.kind in (Kind.WORD, Kind.PHRASE):
            return _term(self.query, token)
        if token.kind is Kind.LPAREN:
            if self.peek().kind is Kind.RPAREN:
                raise self.error("empty parentheses", token.pos)
            node = self.or_expr()
            closing = self.advance()
            if closing.kind is not Kind.RPAREN:
                raise self.error("unbalanced parenthesis: '(' is never closed", token.pos)
            return node
        raise self._missing_operand(token)

    def _missing_operand(self, token: _Token) -> QuerySyntaxError:
        before = self.tokens[self.index - 2] if self.index >= 2 else None
        if before is None:
            if token.kind is Kind.RPAREN:
                return self.error("unbalanced parenthesis: ')' has no matching '('", token.pos)
            return self.error(f"the query cannot start with {token.text!r}", token.pos)
        if before.kind is Kind.LPAREN:
            if token.kind is Kind.END:
                return self.error("unbalanced parenthesis: '(' is never closed", before.pos)
            return self.error(f"{token.text!r} cannot follow '('", token.pos)
        if token.kind in (Kind.END, Kind.RPAREN):
            return self.error(f"{before.text!r} has no term after it", before.pos)
        return self.error(f"{token.text!r} cannot follow {before.text!r}", token.pos)


def parse_query(text: str) -> Query:
    """Parse ``text`` into a :class:`Query`; raise ``QuerySyntaxError`` with the offset."""
    root = _Parser(text).parse()
    negative = root.first_negative_only()
    if negative is not None:
        raise QuerySyntaxError(
            "a query cannot match on NOT alone: add a term that must be present",
            text,
            negative.start,
        )
    return Query(text, root)
