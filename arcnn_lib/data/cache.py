"""The preprocessed uint8 cache: every image decoded, resized and padded once.

A cache folder holds

``images.u8``      the raw array uint8 (N, S, S), read back as one ``np.memmap``;
``index.csv``      id, boneage (months), male, split -- one line per cache row, same order;
``meta.json``      size, N, the source fingerprint and layout. Written last, by an atomic
                   rename: a folder without it is an unfinished cache;
``progress.json``  while building: rows done so far (resumable after an interruption).

The fingerprint hashes the index (ids, labels, splits), each image file's size and mtime,
and the output size, so :func:`get_cache` rebuilds exactly when the source changed.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from pathlib import Path
from typing import List

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .images import load_image, resize_pad
from .layouts import read_index
from ..config import is_phantom, progress_enabled
from .paths import default_cache_dir

CACHE_VERSION = 1
CACHE_COLUMNS = ["id", "boneage", "male", "split"]
_IMAGES, _INDEX, _META, _PROGRESS = "images.u8", "index.csv", "meta.json", "progress.json"


class ImageCache:
    """A finished cache folder, read-only.

    Attributes:
        images: ``np.memmap`` uint8 (N, S, S).
        index: DataFrame ``id`` (str), ``boneage`` (float months), ``male`` (bool),
            ``split`` (str), row i describing ``images[i]``.
        size: S in pixels.
        meta: the contents of ``meta.json``.
    """

    def __init__(self, dest):
        self.dest = Path(dest)
        meta_path = self.dest / _META
        if not meta_path.is_file():
            raise FileNotFoundError(f"no finished cache in {self.dest} (no {_META}); "
                                    "build it with build_cache or get_cache")
        self.meta = json.loads(meta_path.read_text())
        self.size = int(self.meta["size"])
        n = int(self.meta["n"])
        self.images = np.memmap(self.dest / _IMAGES, np.uint8, "r", shape=(n, self.size, self.size))
        self.index = _read_cache_index(self.dest / _INDEX)
        if len(self.index) != n:
            raise ValueError(f"{self.dest / _INDEX} has {len(self.index)} rows, {_META} says {n}")

    def __len__(self) -> int:
        return len(self.index)

    def __repr__(self) -> str:
        return f"ImageCache({str(self.dest)!r}, n={len(self)}, size={self.size})"


def _read_cache_index(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.DataFrame({"id": raw["id"], "boneage": pd.to_numeric(raw["boneage"]).astype(float),
                         "male": raw["male"] == "True", "split": raw["split"]})


def fingerprint(index: pd.DataFrame, size: int) -> str:
    """SHA-256 (hex) of the cache format, ``size`` and, per row, id, labels, split and the
    image file's byte size and mtime."""
    h = hashlib.sha256(f"arcnn-cache-v{CACHE_VERSION}|{int(size)}".encode())
    for row in index[["id", "path", "boneage", "male", "split"]].itertuples(index=False):
        st = os.stat(row.path) if os.path.exists(row.path) else None
        stamp = f"{st.st_size}:{st.st_mtime_ns}" if st else "missing"
        h.update(f"{row.id}|{row.boneage!r}|{bool(row.male)}|{row.split}|{stamp}\n".encode())
    return h.hexdigest()


def build_cache(index: pd.DataFrame, dest, size: int, progress: bool = True,
                skip_bad: bool = False, chunk: int = 512) -> Path:
    """Decode, resize-pad (:func:`resize_pad`) and store every image of ``index`` in ``dest``.

    Idempotent (a finished cache with the same fingerprint is returned untouched) and
    resumable (rows are written in chunks of ``chunk`` and ``progress.json`` records them).

    Args:
        index: from :func:`read_index` (id, path, boneage, male, split).
        dest: the cache folder (created).
        size: S, the side of the cached square images in pixels.
        progress: show a tqdm progress bar.
        skip_bad: leave out missing/corrupt images (one warning lists them) instead of
            raising ``FileNotFoundError`` / ``ValueError``.
    Returns:
        ``dest`` as a Path; open it with :class:`ImageCache`.
    """
    dest, n, size = Path(dest), len(index), int(size)
    if n == 0:
        raise ValueError("cannot build a cache of an empty index")
    fp = fingerprint(index, size)
    if _finished(dest, fp):
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    state = _load_progress(dest, fp, n, size)
    images = np.memmap(dest / _IMAGES, np.uint8, "r+", shape=(n, size, size))
    paths = index["path"].tolist()
    with tqdm(total=n, initial=state["next"], disable=not progress_enabled(progress), unit="img",
              desc=f"cache {size}px") as bar:
        for start in range(state["next"], n, chunk):
            stop = min(start + chunk, n)
            _write_rows(images, paths, start, stop, state, size, skip_bad)
            images.flush()
            state["next"] = stop
            _atomic_write(dest / _PROGRESS, json.dumps(state))
            bar.update(stop - start)
    del images
    _finish(dest, index, state, fp, size)
    return dest


def _write_rows(images, paths: List[str], start: int, stop: int, state: dict, size: int,
                skip_bad: bool) -> None:
    for i in range(start, stop):
        try:
            images[state["written"]] = resize_pad(load_image(paths[i]), size)
        except (FileNotFoundError, ValueError) as exc:
            if not skip_bad:
                raise
            state["bad"].append([i, str(exc)])
            continue
        state["written"] += 1


def _finished(dest: Path, fp: str) -> bool:
    meta = dest / _META
    return meta.is_file() and json.loads(meta.read_text()).get("fingerprint") == fp


def _load_progress(dest: Path, fp: str, n: int, size: int) -> dict:
    """The saved state if it belongs to this fingerprint, else a fresh one (and a fresh file)."""
    prog, meta = dest / _PROGRESS, dest / _META
    if prog.is_file() and (dest / _IMAGES).is_file():
        state = json.loads(prog.read_text())
        if state.get("fingerprint") == fp \
                and (dest / _IMAGES).stat().st_size == n * size * size:
            return state
    meta.unlink(missing_ok=True)
    with open(dest / _IMAGES, "wb") as f:
        f.truncate(n * size * size)
    return {"fingerprint": fp, "next": 0, "written": 0, "bad": []}


def _finish(dest: Path, index: pd.DataFrame, state: dict, fp: str, size: int) -> None:
    bad_rows = [i for i, _ in state["bad"]]
    if bad_rows:
        warnings.warn(f"cache {dest}: skipped {len(bad_rows)} bad image(s):\n"
                      + "\n".join(msg for _, msg in state["bad"]), stacklevel=3)
    kept = index.drop(index.index[bad_rows]) if bad_rows else index
    if len(kept) == 0:
        raise ValueError(f"cache {dest}: no readable images")
    with open(dest / _IMAGES, "r+b") as f:
        f.truncate(len(kept) * size * size)
    _atomic_write(dest / _INDEX, kept[CACHE_COLUMNS].to_csv(index=False))
    meta = dict(version=CACHE_VERSION, size=size, n=len(kept), fingerprint=fp,
                layout=index.attrs.get("layout", ""), skipped=len(bad_rows))
    _atomic_write(dest / _META, json.dumps(meta, indent=1))
    (dest / _PROGRESS).unlink(missing_ok=True)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def get_cache(root_or_phantom, size: int, cache_dir=None, progress: bool = True,
              skip_bad: bool = False) -> ImageCache:
    """The cache of a data folder (or ``'phantom'``) at ``size`` px, built on first use.

    The cache lives under ``cache_dir`` (default :func:`default_cache_dir`: ``$ARCNN_CACHE``
    or ``~/.cache/arcnn_lib``), never in the data folder, which may be read-only. Its folder
    name carries the fingerprint, so a changed source gets a new cache.
    """
    cache_dir = default_cache_dir(cache_dir)
    if is_phantom(root_or_phantom):
        from .phantom import phantom_folder  # phantom imports this package's paths only
        root = phantom_folder(cache_dir=cache_dir, progress=progress)
    else:
        root = Path(root_or_phantom)
    index = read_index(root)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", root.resolve().name) or "data"
    dest = cache_dir / f"{name}-{int(size)}px-{fingerprint(index, size)[:16]}"
    return ImageCache(build_cache(index, dest, size, progress=progress, skip_bad=skip_bad))
