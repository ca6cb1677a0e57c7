"""Learning from verdicts in the background, so that a retrain never holds up a cycle.

Learning a thesis with hundreds of labels takes seconds to a minute (embedding the labeled
items, refitting per fold), longer than a poll cycle should wait and longer than SIGTERM may
wait. Decisions:

* :class:`BackgroundLearner` learns on a daemon thread; the cycle keeps matching with the
  last learning it has (or the rules as written) and picks up the new one at its next
  matcher build: :meth:`BackgroundLearner.learning_for` returns what was learned for
  exactly these theses (ids and digests) and these verdicts, or None.
* A retrain starts when the verdicts change (:meth:`refresh`, one ``count``/``max`` query a
  cycle) or the matched theses do. One runs at a time; a request while one runs is
  remembered and run next, with the state of that moment.
* A failure while learning is logged; matching goes on without it. On SIGTERM the thread is
  simply abandoned (a daemon thread; the process exits): nothing it does is stored.
* The embedder is shared with the cycle, so calls to it are serialised by a lock
  (:class:`SerialEmbedder`): a tokenizer is not guaranteed to be thread-safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from monitor.rulebook import thesis_digest
from monitor.types import Thesis

if TYPE_CHECKING:
    from monitor.analysis.feedback import FeedbackStore
    from monitor.matching.learn import Learning
    from monitor.semantic.embedder import Embedder, Vectors

log = logging.getLogger(__name__)

Key = tuple[tuple[tuple[str, str], ...], tuple[int, int]]


class SerialEmbedder:
    """An embedder whose calls run one at a time."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.dim = inner.dim
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            return self.inner.embed(texts)


class BackgroundLearner:
    def __init__(
        self,
        store: FeedbackStore,
        embedder: Embedder,
        version: Callable[[], tuple[int, int]],
        on_learned: Callable[[], None],
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.version = version
        self.on_learned = on_learned
        self._lock = threading.Lock()
        self._learned: tuple[Key, Learning | None] | None = None
        self._thread: threading.Thread | None = None
        self._wanted: tuple[Key, list[Thesis]] | None = None
        self._verdicts: tuple[int, int] | None = None

    def learning_for(self, theses: Sequence[Thesis]) -> Learning | None:
        """What was learned for these theses and the current verdicts; starts learning
        (in the background) when that is not known yet."""
        if not theses:
            return None
        key = (_thesis_key(theses), self._verdicts or self.version())
        with self._lock:
            if self._learned is not None and self._learned[0][0] == key[0]:
                learned_key, learning = self._learned
                if learned_key == key:
                    return learning
                stale: Learning | None = learning  # these theses, older verdicts: better
            else:
                stale = None
        self._request(key, theses)
        return stale

    def refresh(self) -> bool:
        """Note new verdicts (one cheap query); True when they changed since the last call
        (the next matcher build then learns again)."""
        version = self.version()
        changed = self._verdicts is not None and version != self._verdicts
        self._verdicts = version
        return changed

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the learning in progress (tests, ``--once``);
        True when none is running afterwards."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    def _request(self, key: Key, theses: Sequence[Thesis]) -> None:
        with self._lock:
            self._wanted = (key, list(theses))
            if self._thread is not None and self._thread.is_alive():
                return  # the running one picks the request up when it ends
            self._thread = threading.Thread(target=self._run, name="learner", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        from monitor.analysis.feedback import learning_from_feedback

        while True:
            with self._lock:
                if self._wanted is None:
                    return
                key, theses = self._wanted
                self._wanted = None
            try:
                learning = learning_from_feedback(self.store, theses, self.embedder)
            except Exception:  # learning is an improvement, never a stop
                log.exception("learning from verdicts failed; matching with the rules as written")
                learning = None
            for thesis_id, learned in sorted((learning.theses if learning else {}).items()):
                log.info("thesis %s learned from verdicts: %s", thesis_id, learned.why)
            with self._lock:
                before = self._learned[1] if self._learned is not None else None
                self._learned = (key, learning)
            if learning is not None or before is not None:
                self.on_learned()  # else nothing to learn, as before: the matcher stands


def _thesis_key(theses: Sequence[Thesis]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((t.id, thesis_digest(t)) for t in theses))
