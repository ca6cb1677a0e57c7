"""Many keyword queries against one document, fast (pure).

:class:`KeywordMatcher` gives the same answer as evaluating every query on every document
(``[(i, evaluate(q, doc)) for i, q in enumerate(queries) if evaluate(q, doc) is not None]``
with :mod:`monitor.matching.evaluate`), but evaluates only a few. How:

* **Atoms.** Every word of every query term becomes an *atom*: a stem, or a raw prefix for a
  wildcard, in a namespace: ``body`` (no field, ``title``, ``summary``: title and summary are
  ranges of the body), ``source`` or ``tag``. A term cannot match unless all its atoms occur in
  the document, so atom presence is a cheap necessary condition; for a single word without a
  position restriction (no field, ``source``, ``tag``) it is the whole condition.
* **Hits.** For a document, the set of present atom ids is the union of a per-token lookup:
  token -> atoms it carries (its stem's atom, the atoms of the indexed prefixes it starts
  with). That table is cached across documents (token vocabularies repeat), so a document
  costs one dict lookup per distinct token; it is cleared at :data:`TOKEN_CACHE_LIMIT`.
* **Anchors (the inverted index).** For each query, a set of atoms of which at least one must
  be present whenever it matches: a term's rarest-looking atom (the longest key), the union
  over an OR's branches, the most selective child of an AND (fewest atoms, then longest keys),
  either side of a NEAR. A query is a candidate only when a hit atom anchors it, which is
  stricter than "holds one of its positive terms" and just as safe.
* **Compiled tests.** Each candidate first runs a precompiled predicate over the hit set:
  an OR of exact words is one ``frozenset.isdisjoint``, a phrase or field term checks
  ``atoms <= hits`` before looking at positions. Only the queries that pass collect their
  matched terms, with a compiled mirror of :func:`~monitor.matching.evaluate.evaluate` (same
  terms, same order) that also reads exact words from the hit set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import chain

from monitor.matching.document import Document
from monitor.matching.evaluate import collect_near, near_matches, term_matches
from monitor.rules.query import And, Near, Node, Not, Or, Query, Term
from monitor.text import stem
from monitor.types import Item

TOKEN_CACHE_LIMIT = 200_000
_NAMESPACES = ("body", "source", "tag")

Hits = set[int]
Test = Callable[[Hits, Document], bool]
Collect = Callable[[Hits, Document, list[str]], bool]
Compiled = frozenset[int] | Test  # a frozenset: "one of these atoms is present"


class _Atoms:
    """The atoms of one namespace: stem and prefix keys -> ids, and the token cache."""

    def __init__(self) -> None:
        self.stems: dict[str, int] = {}
        self.prefixes: dict[str, int] = {}
        self.prefix_lengths: tuple[int, ...] = ()
        self.cache = _TokenAtoms(self)

    def of_token(self, token: str) -> tuple[int, ...]:
        ids = []
        atom = self.stems.get(stem(token))
        if atom is not None:
            ids.append(atom)
        for length in self.prefix_lengths:
            if length > len(token):
                break
            atom = self.prefixes.get(token[:length])
            if atom is not None:
                ids.append(atom)
        return tuple(ids)

    def hits(self, tokens: Iterable[str]) -> chain[int]:
        return chain.from_iterable(filter(None, map(self.cache.__getitem__, tokens)))


class _TokenAtoms(dict[str, tuple[int, ...]]):
    """token -> the atoms it carries, computed on first sight."""

    def __init__(self, atoms: _Atoms) -> None:
        super().__init__()
        self._atoms = atoms

    def __missing__(self, token: str) -> tuple[int, ...]:
        found = self._atoms.of_token(token)
        if len(self) >= TOKEN_CACHE_LIMIT:
            self.clear()
        self[token] = found
        return found


class KeywordMatcher:
    """Matches documents against a fixed list of queries; build once per rule-set version."""

    def __init__(self, queries: Sequence[Query]) -> None:
        self.queries = tuple(queries)
        self._namespaces = {name: _Atoms() for name in _NAMESPACES}
        self._keys: list[tuple[str, str, bool]] = []  # atom id -> (namespace, key, prefix)
        self._tests: list[Test] = []
        self._collectors: list[Collect] = []
        anchored: list[tuple[int, frozenset[int]]] = []
        for index, query in enumerate(self.queries):
            self._tests.append(_as_test(self._compile(query.root)))
            self._collectors.append(self._collector(query.root))
            anchor = self._anchor(query.root)
            assert anchor is not None, "parse_query guarantees a positive term"
            anchored.append((index, anchor))
        self._postings: list[list[int]] = [[] for _ in self._keys]
        for index, anchor in anchored:
            for atom in anchor:
                self._postings[atom].append(index)
        for atoms in self._namespaces.values():
            atoms.prefix_lengths = tuple(sorted({len(p) for p in atoms.prefixes}))
        self._body = self._namespaces["body"]
        self._source = self._namespaces["source"] if self._uses("source") else None
        self._tag = self._namespaces["tag"] if self._uses("tag") else None

    # ---------------------------------------------------------------------------- matching

    def match(self, doc: Document) -> list[tuple[int, tuple[str, ...]]]:
        """``(index, matched terms)`` of every query that matches ``doc``, by index."""
        hits = self.hits(doc)
        postings = self._postings
        candidates = set(chain.from_iterable(map(postings.__getitem__, hits)))
        tests, collectors = self._tests, self._collectors
        found: list[tuple[int, tuple[str, ...]]] = []
        for index in sorted([i for i in candidates if tests[i](hits, doc)]):
            terms: list[str] = []
            if collectors[index](hits, doc, terms):
                found.append((index, tuple(dict.fromkeys(terms))))
        return found

    def match_item(self, item: Item) -> list[tuple[int, tuple[str, ...]]]:
        return self.match(Document.from_item(item))

    def hits(self, doc: Document) -> Hits:
        """The ids of the atoms present in ``doc``."""
        hits = set(self._body.hits(doc.tokens))
        if self._source is not None and doc.source_document is not None:
            hits.update(self._source.hits(doc.source_document.tokens))
        if self._tag is not None:
            for tag in doc.tag_documents:
                hits.update(self._tag.hits(tag.tokens))
        return hits

    # ---------------------------------------------------------------------------- building

    def _uses(self, namespace: str) -> bool:
        return any(ns == namespace for ns, _, _ in self._keys)

    def _atom(self, namespace: str, key: str, prefix: bool) -> int:
        atoms = self._namespaces[namespace]
        table = atoms.prefixes if prefix else atoms.stems
        atom = table.get(key)
        if atom is None:
            atom = table[key] = len(self._keys)
            self._keys.append((namespace, key, prefix))
        return atom

    def _term_atoms(self, term: Term) -> tuple[int, ...]:
        namespace = term.field if term.field in ("source", "tag") else "body"
        assert namespace is not None
        return tuple(dict.fromkeys(self._atom(namespace, k, p) for k, p in term.keys))

    def _compile(self, node: Node) -> Compiled:
        if isinstance(node, Term):
            atoms = self._term_atoms(node)
            if len(node.keys) == 1 and node.field not in ("title", "summary"):
                return frozenset(atoms)
            required = frozenset(atoms)
            term = node
            return lambda hits, doc: required <= hits and term_matches(term, doc)
        if isinstance(node, Near):
            left = frozenset(self._term_atoms(t)[0] for t in node.left)
            right = frozenset(self._term_atoms(t)[0] for t in node.right)
            near = node
            return lambda hits, doc: (
                not left.isdisjoint(hits) and not right.isdisjoint(hits) and near_matches(near, doc)
            )
        if isinstance(node, Not):
            child = self._compile(node.child)
            if isinstance(child, frozenset):
                return _Absent(child)
            return lambda hits, doc: not child(hits, doc)
        if isinstance(node, Or):
            return _any_of([self._compile(c) for c in node.children])
        if isinstance(node, And):
            return _all_of([self._compile(c) for c in node.children])
        raise TypeError(f"unknown query node {node!r}")

    def _collector(self, node: Node) -> Collect:
        """Like :func:`~monitor.matching.evaluate.collect` (same terms, same order), with exact
        words read from hits."""
        if isinstance(node, Term):
            compiled = self._compile(node)
            text = node.text
            if isinstance(compiled, frozenset):
                (atom,) = compiled

                def collect_word(hits: Hits, doc: Document, out: list[str]) -> bool:
                    if atom in hits:
                        out.append(text)
                        return True
                    return False

                return collect_word

            test = compiled

            def collect_term(hits: Hits, doc: Document, out: list[str]) -> bool:
                if test(hits, doc):
                    out.append(text)
                    return True
                return False

            return collect_term
        if isinstance(node, Near):
            near_test = _as_test(self._compile(node))
            near_node = node
            return lambda hits, doc, out: near_test(hits, doc) and collect_near(near_node, doc, out)
        if isinstance(node, Not):
            child_test = _as_test(self._compile(node.child))
            return lambda hits, doc, out: not child_test(hits, doc)
        if isinstance(node, And):
            parts = [self._collector(c) for c in node.children]

            def collect_all(hits: Hits, doc: Document, out: list[str]) -> bool:
                found: list[str] = []
                for part in parts:
                    if not part(hits, doc, found):
                        return False
                out.extend(found)
                return True

            return collect_all
        if isinstance(node, Or):
            words = [self._word_atom(c) for c in node.children]
            if None not in words:
                # An OR of exact words (the usual criterion group): one pass over the hits.
                texts = [c.text for c in node.children if isinstance(c, Term)]
                pairs = tuple(zip(words, texts, strict=True))

                def collect_words(hits: Hits, doc: Document, out: list[str]) -> bool:
                    found = [text for atom, text in pairs if atom in hits]
                    out.extend(found)
                    return bool(found)

                return collect_words
            branches = [self._collector(c) for c in node.children]

            def collect_any(hits: Hits, doc: Document, out: list[str]) -> bool:
                matched = False
                for branch in branches:
                    matched = branch(hits, doc, out) or matched
                return matched

            return collect_any
        raise TypeError(f"unknown query node {node!r}")

    def _word_atom(self, node: Node) -> int | None:
        """The atom of an exact word (a term :meth:`_compile` turns into one atom), else None."""
        if isinstance(node, Term):
            compiled = self._compile(node)
            if isinstance(compiled, frozenset):
                (atom,) = compiled
                return atom
        return None

    def _anchor(self, node: Node) -> frozenset[int] | None:
        """Atoms one of which is present whenever ``node`` matches; None if there are none."""
        if isinstance(node, Term):
            return frozenset({self._best_atom(self._term_atoms(node))})
        if isinstance(node, Near):
            sides = [
                frozenset(self._best_atom(self._term_atoms(t)) for t in terms)
                for terms in (node.left, node.right)
            ]
            return min(sides, key=self._cost)
        if isinstance(node, Or):
            found: set[int] = set()
            for child in node.children:
                anchor = self._anchor(child)
                if anchor is None:
                    return None
                found |= anchor
            return frozenset(found)
        if isinstance(node, And):
            options = [a for a in map(self._anchor, node.children) if a is not None]
            return min(options, key=self._cost) if options else None
        return None

    def _best_atom(self, atoms: Sequence[int]) -> int:
        return min(atoms, key=lambda atom: self._cost({atom}))

    def _cost(self, atoms: frozenset[int] | set[int]) -> float:
        """A guess at how often one of ``atoms`` occurs: long keys are rarer, prefixes
        broader than stems. Only used to choose anchors; any choice is correct."""
        total = 0.0
        for atom in atoms:
            _, key, prefix = self._keys[atom]
            total += (2.0 if prefix else 1.0) / max(1, len(key) - 2)
        return total


class _Absent:
    """The compiled ``NOT`` of an OR of words: true when none of ``absent`` is hit. Callable
    like any test; :func:`_all_of` merges these into one set check."""

    __slots__ = ("absent",)

    def __init__(self, absent: frozenset[int]) -> None:
        self.absent = absent

    def __call__(self, hits: Hits, doc: Document) -> bool:
        return self.absent.isdisjoint(hits)


def _as_test(compiled: Compiled) -> Test:
    if isinstance(compiled, frozenset):
        atoms = compiled
        return lambda hits, doc: not atoms.isdisjoint(hits)
    return compiled


def _any_of(children: list[Compiled]) -> Compiled:
    exact = frozenset().union(*(c for c in children if isinstance(c, frozenset)))
    others = [c for c in children if not isinstance(c, frozenset)]
    if not others:
        return exact
    if not exact:
        return lambda hits, doc: any(test(hits, doc) for test in others)
    return lambda hits, doc: not exact.isdisjoint(hits) or any(test(hits, doc) for test in others)


def _all_of(children: list[Compiled]) -> Test:
    """Every child holds. Decisions, for speed (a candidate test is one or two Python calls):
    the OR-of-words children (frozensets) are checked inline with ``isdisjoint``, first; the
    NOT-of-words children merge into one ``absent`` set (disjoint from each iff disjoint from
    their union), checked next; the tests that may look at positions come last."""
    present = [c for c in children if isinstance(c, frozenset)]
    absent_sets = [c.absent for c in children if isinstance(c, _Absent)]
    others = [c for c in children if not isinstance(c, frozenset | _Absent)]
    absent = frozenset().union(*absent_sets) if absent_sets else None
    test = _present_test(present, absent)
    if not others:
        assert test is not None
        return test
    if test is None and len(others) == 1:
        return others[0]
    rest = others[0] if len(others) == 1 else _every(others)
    if test is None:
        return rest
    first = test
    return lambda hits, doc: first(hits, doc) and rest(hits, doc)


def _every(tests: list[Test]) -> Test:
    if len(tests) == 2:
        a, b = tests
        return lambda hits, doc: a(hits, doc) and b(hits, doc)
    return lambda hits, doc: all(test(hits, doc) for test in tests)


def _present_test(present: list[frozenset[int]], absent: frozenset[int] | None) -> Test | None:
    """One closure: each of ``present`` meets the hits and ``absent`` (if any) does not.
    Unrolled for the usual two to four groups."""
    if absent is None:
        if not present:
            return None
        if len(present) == 1:
            (a,) = present
            return lambda hits, doc: not a.isdisjoint(hits)
        if len(present) == 2:
            a, b = present
            return lambda hits, doc: not (a.isdisjoint(hits) or b.isdisjoint(hits))
        if len(present) == 3:
            a, b, c = present
            return lambda hits, doc: (
                not (a.isdisjoint(hits) or b.isdisjoint(hits) or c.isdisjoint(hits))
            )
        if len(present) == 4:
            a, b, c, d = present
            return lambda hits, doc: (
                not (
                    a.isdisjoint(hits)
                    or b.isdisjoint(hits)
                    or c.isdisjoint(hits)
                    or d.isdisjoint(hits)
                )
            )
        sets = tuple(present)
        return lambda hits, doc: not any(s.isdisjoint(hits) for s in sets)
    x = absent
    if not present:
        return lambda hits, doc: x.isdisjoint(hits)
    if len(present) == 1:
        (a,) = present
        return lambda hits, doc: not a.isdisjoint(hits) and x.isdisjoint(hits)
    if len(present) == 2:
        a, b = present
        return lambda hits, doc: (
            not (a.isdisjoint(hits) or b.isdisjoint(hits)) and x.isdisjoint(hits)
        )
    if len(present) == 3:
        a, b, c = present
        return lambda hits, doc: (
            not (a.isdisjoint(hits) or b.isdisjoint(hits) or c.isdisjoint(hits))
            and x.isdisjoint(hits)
        )
    if len(present) == 4:
        a, b, c, d = present
        return lambda hits, doc: (
            not (
                a.isdisjoint(hits) or b.isdisjoint(hits) or c.isdisjoint(hits) or d.isdisjoint(hits)
            )
            and x.isdisjoint(hits)
        )
    sets = tuple(present)
    return lambda hits, doc: not any(s.isdisjoint(hits) for s in sets) and x.isdisjoint(hits)
