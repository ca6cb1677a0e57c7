"""The active rule set: the last good version of every rule file, reloaded on change.

Decision: reloading works file by file. A file whose new version is invalid is reported
(``file:line: message``) and its last good version stays active; a file that was never
valid is left out until it is fixed; a deleted file's thesis is dropped. A thesis id that
another active file already uses is an error of the newer file.
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
        self._matcher: Matcher | None = None

    @property
    def theses(self) -> list[Thesis]:
        return [loaded.thesis for _, loaded in sorted(self._files.items())]

    @property
    def matcher(self) -> Matcher:
        if self._matcher is None:
            self._matcher = self.make_matcher(self.theses)
        return self._matcher

    def refresh(self) -> tuple[bool, list[RuleError]]:
        """Load new and changed files. Returns (whether the active set changed, new errors).

        An unchanged invalid file is reported once, not on every refresh.
        """
        changed = False
        errors: list[RuleError] = []
        try:
            paths = expand_rule_paths(list(self.entries))
        except RuleError as e:
            return False, [e]
        for gone in set(self._files) - set(paths):
            log.info("rule file %s removed; its thesis is no longer monitored", gone)
            del self._files[gone]
            self._rejected.clear()  # a file rejected as a duplicate of it may be fine now
            changed = True
        for path in paths:
            stamp = _stamp(path)
            if stamp is None:
                continue
            loaded = self._files.get(path)
            if (loaded and loaded.stamp == stamp) or self._rejected.get(path) == stamp:
                continue
            problems = self._load_one(path, stamp)
            if problems:
                self._rejected[path] = stamp
                errors.extend(problems)
                if loaded:
                    log.warning("%s is invalid; keeping its last good version", path)
            else:
                self._rejected.pop(path, None)
                changed = True
        if changed:
            self._matcher = None
        return changed, errors

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


def _stamp(path: Path) -> str | None:
    """A digest of the file's bytes: rule files are small, and a digest cannot miss a
    rewrite that a coarse modification time would."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
