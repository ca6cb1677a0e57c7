"""Learning from verdicts (monitor.matching.learn): refinement, the decision model, the choice
between them, labels from stored feedback, and `monitor eval --learn-from/--folds`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from monitor.analysis.evaluation import evaluate, labels_for, load_labeled, thesis_for_briefs
from monitor.analysis.feedback import labels_from_feedback
from monitor.evalcli import _theses
from monitor.matching.engine import Matcher
from monitor.matching.evidence import BASE_FEATURES, Evidence, PairTable, pair_features
from monitor.matching.learn import (
    MIN_LABELED,
    Decider,
    Label,
    LearnedThesis,
    Learning,
    fold_numbers,
    learn,
    refine,
)
from monitor.semantic import Embedder, load_embedder, semantic_status
from monitor.types import Criterion, Item, Thesis
from tests.corpus import corpus_dir
from tests.feedserver import FeedServer

BRIEF_81 = corpus_dir() / "briefs" / "rosa-del-mar-2026-03-22-issue-81.txt"
DEV_81 = corpus_dir() / "eval" / "dev-rosa-81.jsonl"
THESIS = Thesis(
    id="t",
    title="Nuclear restarts",
    source_brief="b.txt",
    criteria=(
        Criterion("confirm-1", "confirm", "Reactors restart on schedule.", "restart*"),
        Criterion("kill-1", "kill", "Restarts are delayed or cancelled.", "delay* OR cancel*"),
        Criterion("watch-1", "watch", "Will fuel supply hold?", "fuel"),
    ),
)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    found = load_embedder()
    assert found is not None, semantic_status()[1]
    return found


def make(theses: list[Thesis] | tuple[Thesis, ...], emb: Embedder) -> Matcher:
    return Matcher(theses, embedder=emb)


def item(n: int, title: str, summary: str = "") -> Item:
    return Item("wire", f"i{n}", title, summary)


# -- pure parts -----------------------------------------------------------------------------


def test_folds_are_fixed_by_the_keys_and_balanced() -> None:
    keys = [f"item-{n}" for n in range(23)]
    folds = fold_numbers(keys, 5)
    assert folds == fold_numbers(list(keys), 5)  # the same split in every run
    assert sorted(folds.count(f) for f in range(5)) == [4, 4, 5, 5, 5]
    reordered = fold_numbers(list(reversed(keys)), 5)
    assert dict(zip(reversed(keys), reordered, strict=True)) == dict(zip(keys, folds, strict=True))


def test_pair_features_carry_the_competition_between_criteria() -> None:
    rows = [
        Evidence(0.6, 0.5, 0.4, 0.3, 1.0, ("restart",), 0.5),
        Evidence(0.2, 0.1, 0.2, 0.0, -1.0, None, 0.0),
    ]
    table = pair_features(rows)
    assert table.shape == (2, BASE_FEATURES + 2)
    assert table[0, 5] == 1.0 and table[1, 5] == 0.0  # query hit
    assert table[0, 7] == pytest.approx(0.4) and table[1, 7] == pytest.approx(-0.4)  # margin
    assert (table[0, 8], table[1, 8]) == (1.0, 0.0)  # the best of the thesis
    assert table[0, BASE_FEATURES:].tolist() == [1.0, 0.0]  # one-hot criterion


def test_decider_fires_the_most_probable_criterion_and_a_second_only_when_clear() -> None:
    one_feature = Decider(np.zeros(1), np.ones(1), np.array([1.0]), 0.0, threshold=0.5)
    # probabilities sigmoid(x): 0.88, 0.73, 0.27
    assert [k for k, _ in one_feature.decide(np.array([[2.0], [1.0], [-1.0]]))] == [0]
    # 0.95 and 0.88: both above SECOND (0.8), both fire
    assert [k for k, _ in one_feature.decide(np.array([[3.0], [2.0], [-1.0]]))] == [0, 1]
    assert one_feature.decide(np.array([[-2.0], [-1.0]])) == []  # none reaches the threshold


def test_criterion_norms_put_every_criterion_on_one_scale() -> None:
    """Criterion 0 always scores high, criterion 1 low: after normalisation an item at
    each criterion's own mean scores 0 on both, and the z-margin compares them fairly."""
    from monitor.matching.learn import CriterionNorms

    def rows(a: float, b: float) -> np.ndarray:
        return np.array([[a, a, 0.0], [b, b, 0.0]])

    norms = CriterionNorms.of([rows(0.8, 0.2), rows(0.6, 0.1), rows(0.7, 0.3)])
    extended = norms.extend(rows(0.7, 0.2))  # each criterion's mean

    assert extended.shape == (2, 3 + 3)
    assert extended[:, 3:5].ravel().tolist() == pytest.approx([0.0, 0.0, 0.0, 0.0])
    assert extended[:, 5].tolist() == pytest.approx([0.0, 0.0])  # neither stands out
    assert norms.extend(rows(0.7, 0.3))[1, 5] > 0  # criterion 1 above its usual level


def test_refine_adds_useful_items_as_examples_and_wrong_hits_as_counter_examples() -> None:
    labels = [
        Label("t", item(1, "Unit 2 restarts ahead of plan"), {"confirm-1": True}),
        Label("t", item(2, "Restart talk at a conference"), {"confirm-1": False}),
        Label("t", item(3, "Quiet week"), {"confirm-1": False}),
        Label("t", item(4, "Restart delayed to 2028"), {"kill-1": True, "confirm-1": False}),
    ]
    prior = PairTable(
        ("confirm-1", "kill-1"),
        [np.zeros((2, 1))] * 4,
        [[True, False], [True, False], [False, False], [True, True]],  # what the rules fired
    )
    refined = refine(THESIS, labels, prior)
    confirm, kill, watch = refined.criteria
    assert confirm.examples == ("Unit 2 restarts ahead of plan",)
    # only the items the rules fired on wrongly become counter-examples
    assert confirm.counter_examples == (
        "Restart talk at a conference",
        "Restart delayed to 2028",
    )
    assert kill.examples == ("Restart delayed to 2028",) and kill.counter_examples == ()
    assert watch == THESIS.criteria[2]  # watch criteria are not learned


def test_a_learned_decider_replaces_the_rules_for_confirm_and_kill_only(
    embedder: Embedder,
) -> None:
    """A decider whose only weight is on the kill-1 one-hot fires kill-1 for every item,
    whatever the rules say; the watch criterion is still matched by its query."""
    width = BASE_FEATURES + 2
    coef = np.zeros(width)
    coef[BASE_FEATURES + 1] = 20.0
    decider = Decider(np.zeros(width), np.ones(width), coef, -10.0, threshold=0.5)
    learned = LearnedThesis(THESIS, decider, {}, "model", "model decides")
    matcher = Matcher([THESIS], embedder=embedder, learning=Learning({"t": learned}))
    restart = item(1, "Reactor restart completed on schedule", "Fuel loaded.")

    (matches,) = matcher.match_batch([restart], embedder.embed([restart.text]))

    assert {(m.criterion_id, m.polarity) for m in matches} == {
        ("kill-1", "kill"),
        ("watch-1", "watch"),
    }
    kill = next(m for m in matches if m.criterion_id == "kill-1")
    assert kill.score == pytest.approx(1.0, abs=1e-3)  # the model's probability
    plain = Matcher([THESIS], embedder=embedder).match_batch(
        [restart], embedder.embed([restart.text])
    )[0]
    assert "confirm-1" in {m.criterion_id for m in plain}  # the rules alone say confirm


# -- learning on labeled items ---------------------------------------------------------------


def dev_labels(limit: int | None = None) -> tuple[Thesis, list[Label]]:
    items = load_labeled(DEV_81)[:limit]
    (thesis,) = _theses(None, BRIEF_81)
    return thesis, labels_for(items, thesis_for_briefs(items, [thesis], single=True))


def test_a_few_labels_refine_the_rules_without_a_model(embedder: Embedder) -> None:
    thesis, labels = dev_labels(MIN_LABELED - 1)

    learning = learn([thesis], labels, embedder, make)

    learned = learning.theses[thesis.id]
    assert learned.decider is None and learned.decides == "refined rules"
    assert f"{MIN_LABELED - 1} labeled item(s)" in learned.why
    positives = sum(v for lab in labels for v in lab.verdicts.values())
    assert sum(s.positives for s in learned.stats.values()) == positives
    added = sum(len(c.examples) for c in learned.thesis.criteria) - sum(
        len(c.examples) for c in thesis.criteria
    )
    assert added == positives  # each useful pair became an example of its criterion


def test_enough_labels_fit_a_model_and_measure_each_candidate_out_of_fold(
    embedder: Embedder,
) -> None:
    thesis, labels = dev_labels()

    learned = learn([thesis], labels, embedder, make).theses[thesis.id]

    assert learned.decider is not None
    assert set(learned.f1) == {"rules", "refined rules", "model"}
    assert learned.decides == max(learned.f1, key=lambda n: (learned.f1[n], -len(n)))
    assert learned.decides in learned.why
    confirm = learned.stats["confirm-1"]
    assert (confirm.positives, confirm.negatives) == (11, 79)  # every item knows every criterion
    assert all(s.precision is not None and s.recall is not None for s in learned.stats.values())


def test_learning_ignores_labels_of_other_theses_and_of_watch_criteria(
    embedder: Embedder,
) -> None:
    labels = [
        Label("other", item(1, "Reactor restart"), {"confirm-1": True}),
        Label("t", item(2, "Fuel supply holds"), {"watch-1": True}),
    ]
    assert learn([THESIS], labels, embedder, make).theses == {}


# -- labels from the store --------------------------------------------------------------------


class FakeVerdicts:
    """The three reads labels_from_feedback makes (signals reduced to what it reads)."""

    def __init__(self) -> None:
        from types import SimpleNamespace

        from monitor.types import StoredItem

        when = datetime(2026, 5, 1, tzinfo=UTC)
        self.items = {
            7: StoredItem(7, item(7, "Unit restarts"), when),
            8: StoredItem(8, item(8, "Delay"), when),
        }
        self.signals = [
            SimpleNamespace(id=sid, item_id=item_id, criterion_id=criterion, thesis_id=thesis)
            for sid, item_id, criterion, thesis in (
                (1, 7, "confirm-1", "t"),
                (2, 7, "kill-1", "t"),
                (3, 8, "kill-1", "t"),
                (4, 8, "confirm-1", "gone"),
            )
        ]

    def latest_feedback(self) -> dict[int, str]:
        return {1: "useful", 2: "noise", 3: "useful", 4: "useful"}

    def get_signals(self, ids: list[int]) -> list[object]:
        return [s for s in self.signals if s.id in ids]

    def get_items(self, ids: list[int]) -> list[object]:
        return [self.items[i] for i in ids]


def test_verdicts_become_labels_of_the_judged_criteria_only() -> None:
    labels = labels_from_feedback(FakeVerdicts(), [THESIS])  # type: ignore[arg-type]

    assert [(lab.item.item_id, dict(lab.verdicts)) for lab in labels] == [
        ("i7", {"confirm-1": True, "kill-1": False}),
        ("i8", {"kill-1": True}),  # confirm-1 of item 8 was judged on a thesis not loaded
    ]


# -- monitor eval --learn-from / --folds ------------------------------------------------------


def eval_json(*args: str) -> dict[str, object]:
    from monitor.cli import app

    result = CliRunner().invoke(app, ["eval", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_eval_never_learns_from_the_items_it_scores() -> None:
    """Learning from the scored file itself leaves every item out of training: the figures
    are those of the rules as written."""
    plain = eval_json(str(DEV_81), "--brief", str(BRIEF_81))
    learned = eval_json(str(DEV_81), "--brief", str(BRIEF_81), "--learn-from", str(DEV_81))

    assert learned["micro"] == plain["micro"]
    assert plain["validation"] == "rules as written, no learning"
    assert str(learned["validation"]).startswith("learned from ")


def test_eval_folds_scores_each_item_by_a_model_that_did_not_see_it(
    tmp_path: Path, embedder: Embedder
) -> None:
    half = tmp_path / "half.jsonl"  # 45 items: 3 folds of 15
    half.write_text("".join(DEV_81.read_text().splitlines(keepends=True)[:45]))
    items = load_labeled(half)
    (thesis,) = _theses(None, BRIEF_81)

    report = eval_json(str(half), "--brief", str(BRIEF_81), "--folds", "3")

    assert report["validation"] == "3-fold cross-validation over the items"
    assert report["items"] == len(items)
    direct = evaluate(items, [thesis], mode="hybrid", embedder=embedder, single=True, folds=3)
    assert report["micro"] == direct.micro.as_dict()  # the CLI is the library's evaluation


def test_eval_folds_needs_semantic_scoring_and_two_folds(tmp_path: Path) -> None:
    from monitor.errors import ConfigError

    items = load_labeled(DEV_81)
    (thesis,) = _theses(None, BRIEF_81)
    with pytest.raises(ConfigError, match="needs semantic scoring"):
        evaluate(items, [thesis], mode="keyword", single=True, folds=5)
    from monitor.cli import app

    result = CliRunner().invoke(
        app, ["eval", str(DEV_81), "--brief", str(BRIEF_81), "--folds", "1"]
    )
    assert result.exit_code == 2


# -- the daemon learns when verdicts arrive -------------------------------------------------


def test_the_daemon_learns_again_when_verdicts_arrive(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A verdict stored between two cycles makes the daemon learn again, in the background;
    the cycle after that matches with the verdict as a label (its item becomes an example
    of the judged criterion)."""
    import logging

    from monitor.service import Service
    from monitor.settings import Environment, load_config
    from tests.e2e import CONFIRM_ITEM, Clock, rss, write_config

    emb = load_embedder()
    url = feed_server.add("/feed.xml", rss([CONFIRM_ITEM]))
    config = load_config(write_config(tmp_path, {"wire": url}))
    env = Environment.from_mapping({"DATABASE_URL": sqlite_url})
    service = Service(config, env, clock=Clock(), embedder=emb, notifier=None)
    try:
        service.start()
        service.run_cycle()
        before = service.rulebook.matcher
        assert before.learning is None  # no verdict yet: the rules as written
        (signal,) = [s for s in service.store.list_signals() if s.polarity == "confirm"]
        service.store.add_feedback(signal.id, "useful", None, datetime.now(UTC))
        with caplog.at_level(logging.INFO):
            service.run_cycle()  # sees the verdict, learns in the background
            assert service.learner is not None and service.learner.wait(120)
            service.run_cycle()
        after = service.rulebook.matcher
        assert service.refresh_learning() is False  # nothing new since: no retraining
    finally:
        service.close()

    assert after is not before and after.learning is not None
    learned = after.learning.theses[signal.thesis_id]
    criterion = next(c for c in learned.thesis.criteria if c.id == signal.criterion_id)
    assert signal.item_title in criterion.examples[-1]
    assert learned.stats[signal.criterion_id].positives == 1
    assert "new verdicts: the matcher learns again" in caplog.text
    assert f"thesis {signal.thesis_id} learned from verdicts" in caplog.text


class BlockingVerdicts(FakeVerdicts):
    """Verdicts whose first read waits for ``release`` (a slow retrain) or fails."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        import threading

        self.release = threading.Event()
        self.reading = threading.Event()
        self.fail = fail

    def latest_feedback(self) -> dict[int, str]:
        self.reading.set()
        assert self.release.wait(30)
        if self.fail:
            raise RuntimeError("database went away")
        return super().latest_feedback()


def test_a_slow_retrain_never_holds_up_matching(embedder: Embedder) -> None:
    from monitor.learner import BackgroundLearner

    store = BlockingVerdicts()
    learned: list[bool] = []
    learner = BackgroundLearner(store, embedder, lambda: (4, 4), lambda: learned.append(True))  # type: ignore[arg-type]

    assert learner.learning_for([THESIS]) is None  # answered at once: the rules as written
    assert store.reading.wait(10) and not learner.wait(0)  # the retrain runs meanwhile
    store.release.set()
    assert learner.wait(60) and learned == [True]
    learning = learner.learning_for([THESIS])
    assert learning is not None and learning.theses["t"].stats["confirm-1"].positives == 1


def test_a_failed_retrain_is_logged_and_matching_goes_on(
    embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    from monitor.learner import BackgroundLearner

    store = BlockingVerdicts(fail=True)
    store.release.set()
    learner = BackgroundLearner(store, embedder, lambda: (1, 1), lambda: None)  # type: ignore[arg-type]

    assert learner.learning_for([THESIS]) is None
    assert learner.wait(60)
    assert learner.learning_for([THESIS]) is None  # learned nothing, asks no retrain again
    assert learner.wait(0)
    assert "learning from verdicts failed" in caplog.text
