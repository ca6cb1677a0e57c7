"""The active rule set, reloaded file by file on change, and what it holds back.

Decisions (items are matched against the rule set that was meant to be active):

* A file whose new version is invalid is reported (``file:line: message``) and its thesis is
  *held*: its last good version stays loaded (its criteria stay in the database) but it is not
  matched; its items wait and are matched once the file loads again.
* A file that was never valid is reported and waits; once fixed, its thesis is new and is
  matched against the recent window (the backfill).
* No rule file at all (an empty or missing rules folder) holds *all* matching: every item
  waits. That is far likelier a deployment mistake than a wish to monitor nothing.
* A deleted file (while others remain) drops its thesis on purpose.
* A thesis id that another loaded file already uses is an error of the newer file.
* :func:`thesis_digest` identifies a thesis's rules (not its file's bytes: a comment or a
  moved line is no change), so the store can tell a changed thesis from an unchanged one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import RuleError
from monitor.matching.engine import Matcher
from monitor.rules.files import check_rule_files, expand_rule_paths
from monitor.types import Thesis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Loaded:
    stamp: str
    thesis: Thesis


class RuleBook:
    def __init__(
        self,
        entries: Sequence[Path],
        make_matcher: Callable[[Sequence[Thesis]], Matcher] = Matcher,
    ) -> None:
        self.entries = tuple(entries)
        self.make_matcher = make_matcher
        self._files: dict[Path, _Loaded] = {}
        self._rejected: dict[Path, str] = {}
        self._problems: dict[Path, str] = {}  # files failing to load now: the first problem
        self.hold_all: str | None = None  # why no item is matched now, if so
        self._matcher: Matcher | None = None

    @property
    def theses(self) -> list[Thesis]:
        """Every loaded thesis (held ones in their last good version): what the store knows."""
        return [loaded.thesis for _, loaded in sorted(self._files.items())]

    @property
    def held(self) -> dict[str, str]:
        """Thesis id -> why it is held back (its file fails to load now)."""
        return {
            loaded.thesis.id: f"{path} fails to load: {self._problems[path]}"
            for path, loaded in sorted(self._files.items())
            if path in self._problems
        }

    @property
    def waiting_files(self) -> dict[Path, str]:
        """Files that never loaded -> their first problem (their thesis is not known yet)."""
        return {p: m for p, m in sorted(self._problems.items()) if p not in self._files}

    @property
    def matchable(self) -> list[Thesis]:
        """The theses matched now: loaded and not held (none while all matching is held)."""
        if self.hold_all is not None:
            return []
        held = self.held
        return [t for t in self.theses if t.id not in held]

    @property
    def matcher(self) -> Matcher:
        """The matcher of :attr:`matchable`."""
        if self._matcher is None:
            self._matcher = self.make_matcher(self.matchable)
        return self._matcher

    def reset_matcher(self) -> None:
        """Build the matcher again at its next use (new verdicts to learn from)."""
        self._matcher = None

    def digest(self, thesis: Thesis) -> str:
        return thesis_digest(thesis)

    def refresh(self) -> tuple[bool, list[RuleError]]:
        """Load new and changed files. Returns (whether the active set changed, new errors).

        An unchanged invalid file is reported once, not on every refresh.
        """
        changed = False
        errors: list[RuleError] = []
        before = self._matched_state()
        try:
            paths = expand_rule_paths(list(self.entries))
        except RuleError as e:
            reported = self.hold_all
            self._hold_all(f"{e}: every item waits until the rules are back")
            return self._changed(before, False), [e] if reported != self.hold_all else []
        if not paths:
            folders = ", ".join(str(p) for p in self.entries)
            self._hold_all(f"no rule file in {folders}: every item waits until there is one")
            return self._changed(before, False), []
        self.hold_all = None
        for gone in set(self._files) - set(paths):
            log.info("rule file %s removed; its thesis is no longer monitored", gone)
            del self._files[gone]
            self._rejected.clear()  # a file rejected as a duplicate of it may be fine now
            changed = True
        for gone in set(self._problems) - set(paths):
            del self._problems[gone]
        for path in paths:
            stamp = _stamp(path)
            if stamp is None:
                continue
            loaded = self._files.get(path)
            if loaded and loaded.stamp == stamp:  # unchanged, or back to its good version
                if self._problems.pop(path, None) is not None:
                    self._rejected.pop(path, None)
                    log.info("%s loads again: thesis %s is matched again", path, loaded.thesis.id)
                continue
            if self._rejected.get(path) == stamp:
                continue
            problems = self._load_one(path, stamp)
            if problems:
                self._rejected[path] = stamp
                self._problems[path] = problems[0].message
                errors.extend(problems)
                if loaded:
                    log.warning(
                        "%s is invalid: thesis %s is held back, its items wait until it loads",
                        path,
                        loaded.thesis.id,
                    )
            else:
                self._rejected.pop(path, None)
                self._problems.pop(path, None)
                changed = True
        return self._changed(before, changed), errors

    def _hold_all(self, reason: str) -> None:
        if self.hold_all != reason:
            log.error("matching held: %s", reason)
        self.hold_all = reason

    def _matched_state(self) -> tuple[bool, frozenset[str]]:
        return self.hold_all is None, frozenset(self.held)

    def _changed(self, before: tuple[bool, frozenset[str]], changed: bool) -> bool:
        """Whether what is matched changed (a load, a hold or a release); resets the matcher."""
        changed = changed or before != self._matched_state()
        if changed:
            self._matcher = None
        return changed

    def _load_one(self, path: Path, stamp: str) -> list[RuleError]:
        try:
            theses, problems = check_rule_files([path])
        except Exception as error:  # a loader bug must not stop every cycle: report the file
            log.exception("unexpected error while loading %s", path)
            return [RuleError(f"cannot load rule file: {error!r}", str(path))]
        if problems:
            return problems
        thesis = theses[0]
        for other_path, other in self._files.items():
            if other_path != path and other.thesis.id == thesis.id:
                message = f"thesis id {thesis.id!r} is already used by {other_path}"
                return [RuleError(message, str(path), 1)]
        self._files[path] = _Loaded(stamp, thesis)
        return []


def thesis_digest(thesis: Thesis) -> str:
    """A digest of what the thesis matches with (criteria, queries, thresholds, examples),
    not of its file: a comment, a line number or the file's path is no change."""
    criteria = [
        (c.id, c.polarity, c.text, c.query, c.threshold, c.examples, c.counter_examples)
        for c in thesis.criteria
    ]
    text = repr((thesis.id, thesis.automatic, criteria))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _stamp(path: Path) -> str | None:
    """A digest of the file's bytes: rule files are small, and a digest cannot miss a
    rewrite that a coarse modification time would."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
