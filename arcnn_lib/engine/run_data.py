"""The data of one training or evaluation run, as the engine needs it.

:func:`prepare_run_data` turns ``--data`` (a folder or ``phantom``) into a :class:`RunData`:
the uint8 cache (:func:`arcnn_lib.data.cache.get_cache`), the split (the data layer's seeded
stratified :func:`make_split`, written to ``OUT/split.csv`` so the run can be reproduced, or
read back from a given ``split.csv``), the sex selection, and for the phantom the true cue
regions in network-input pixels. Under DDP, rank 0 builds what is missing (phantom, cache,
split) while the other ranks wait, then every rank opens the same files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from . import distributed as D
from ..config import is_phantom

SPLIT_FILE = "split.csv"


@dataclass
class RunData:
    """Cache arrays and labels of a run.

    Attributes:
        images: uint8 (N, S, S) memmap, one row per cached image.
        ages: float32 (N,) bone age in months (NaN: unlabelled).
        male: bool (N,).
        split: object (N,) ``train`` / ``val`` / ``test`` / ``''``.
        ids: object (N,) image ids (str).
        selected: bool (N,) rows of the chosen sex that have an age.
        root: the data folder (the generated one for the phantom).
        split_csv: the ``id,split`` file the split was written to or read from.
        regions: for the phantom, DataFrame ``id, region, x1, y1, x2, y2`` of the true cue
            regions in cache (= network input) pixels; else None.
    """

    images: np.ndarray
    ages: np.ndarray
    male: np.ndarray
    split: np.ndarray
    ids: np.ndarray
    selected: np.ndarray
    root: Path
    split_csv: Optional[Path]
    regions: Optional[pd.DataFrame] = None

    def rows(self, name: str) -> np.ndarray:
        """Cache rows of split ``name`` (labelled, chosen sex), ascending."""
        return np.flatnonzero(self.selected & (self.split == name))


def resolve_root(data: str, phantom_n: int = 800, phantom_seed: int = 0,
                 cache_dir=None, progress: bool = True) -> Path:
    """The data folder of ``data``: the folder itself, or the generated phantom."""
    if is_phantom(data):
        from ..data.phantom import phantom_folder
        return Path(phantom_folder(n=phantom_n, seed=phantom_seed, cache_dir=cache_dir,
                                   progress=progress))
    root = Path(data)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {str(data)!r} does not exist")
    return root


def prepare_run_data(data: str, image_size: int, out_dir: Optional[os.PathLike] = None,
                     seed: int = 0, fractions: Sequence[float] = (0.7, 0.15, 0.15),
                     phantom_n: int = 800, phantom_seed: int = 0, cache_dir=None,
                     sex: str = "all", info: Optional[D.DistInfo] = None,
                     split_csv: Optional[os.PathLike] = None,
                     progress: bool = True, reuse_split: bool = True) -> RunData:
    """Phantom (if asked), cache, split and sex selection of one run.

    The split comes from, in this order: ``split_csv`` if given; ``OUT/split.csv`` if it
    exists and ``reuse_split`` (a resumed run); else a new seeded stratified split written
    to ``OUT/split.csv``.
    """
    from ..data.cache import get_cache
    from ..data.splits import make_split, read_split_csv

    info = info or D.DistInfo()
    out_dir = Path(out_dir) if out_dir is not None else None

    def build():
        root = resolve_root(data, phantom_n, phantom_seed, cache_dir, progress and info.is_main)
        cache = get_cache(root, image_size, cache_dir=cache_dir, progress=progress and info.is_main)
        return root, cache

    if info.is_main:
        root, cache = build()
    D.barrier(info)
    if not info.is_main:
        root, cache = build()  # finished by rank 0: only opened here

    index = cache.index
    if split_csv is not None:
        split_path = Path(split_csv)
        if not split_path.is_file():
            raise FileNotFoundError(f"split file {str(split_path)!r} does not exist")
        index = read_split_csv(split_path, index)
    else:
        split_path = out_dir / SPLIT_FILE if out_dir is not None else None
        exists = reuse_split and split_path is not None and split_path.is_file()
        D.barrier(info)  # every rank decides before rank 0 may write the file
        if exists:
            index = read_split_csv(split_path, index)
        else:
            if info.is_main:
                index = make_split(index, seed=seed, fractions=fractions, dest_csv=split_path)
            D.barrier(info)
            if not info.is_main:
                index = read_split_csv(split_path, cache.index) if split_path is not None else \
                    make_split(cache.index, seed=seed, fractions=fractions)

    ages = index["boneage"].to_numpy(np.float32)
    male = index["male"].to_numpy(bool)
    if sex == "male":
        keep = male.copy()
    elif sex == "female":
        keep = ~male
    elif sex == "all":
        keep = np.ones(len(index), bool)
    else:
        raise ValueError(f"unknown sex {sex!r}; choose male, female or all")
    selected = keep & np.isfinite(ages)
    regions = None
    if is_phantom(data) or (Path(root) / "phantom-regions.csv").is_file():
        regions = regions_in_cache_pixels(root, image_size)
    return RunData(images=cache.images, ages=ages, male=male,
                   split=index["split"].astype(str).to_numpy(object),
                   ids=index["id"].astype(str).to_numpy(object), selected=selected,
                   root=Path(root), split_csv=split_path, regions=regions)


# ---------------------------------------------------------------------------- cue regions
def regions_in_cache_pixels(root: os.PathLike, size: int) -> pd.DataFrame:
    """The phantom's true cue regions (``read_regions``) mapped into cache pixels."""
    from PIL import Image

    from ..data.images import map_boxes
    from ..data.layouts import read_index
    from ..data.phantom import read_regions

    regions = read_regions(root).copy()
    regions["id"] = regions["id"].astype(str)
    index = read_index(root)
    paths = dict(zip(index["id"].astype(str), index["path"]))
    cols = ["x1", "y1", "x2", "y2"]
    out = regions[cols].to_numpy(np.float64).copy()
    shapes = {}
    for k, i in enumerate(regions["id"]):
        if i not in shapes:
            with Image.open(paths[i]) as im:
                w, h = im.size
            shapes[i] = (h, w)
        h, w = shapes[i]
        out[k] = map_boxes(out[k:k + 1], h, w, size)[0]
    res = regions.copy()
    res[cols] = out
    return res
