"""A map-style torch Dataset that decodes images straight from a data folder's index.

This is the simple path (notebooks, evaluation of a few images). Training reads the uint8
cache instead (:mod:`arcnn_lib.data.cache`), which decodes each image once.
"""
from __future__ import annotations

import warnings
from typing import List, Tuple

import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset

from .images import load_image, resize_pad


def check_images(paths) -> List[Tuple[str, str]]:
    """The ``(path, problem)`` pairs of the ``paths`` that are missing or not decodable.

    Uses Pillow's ``verify`` (checks the PNG chunks and their CRCs without decoding pixels).
    """
    bad = []
    for path in paths:
        try:
            with Image.open(path) as im:
                im.verify()
        except Exception as exc:  # Pillow raises many types for broken files
            bad.append((str(path), f"{type(exc).__name__}: {exc}"))
    return bad


class BoneAgeDataset(Dataset):
    """Images of an index (from :func:`~arcnn_lib.data.read_index`) as uint8 tensors.

    ``ds[i]`` is a dict: ``image`` uint8 tensor (1, S, S) (aspect-preserving resize and
    zero-padding, :func:`~arcnn_lib.data.resize_pad`), ``age`` float32 scalar tensor (months,
    NaN for unlabelled rows), ``male`` bool scalar tensor, ``id`` str.

    Args:
        index: DataFrame with at least ``id, path, boneage, male``.
        image_size: S, the side of the square output in pixels.
        skip_bad: check every image up front and drop the missing or corrupt ones with one
            warning that lists them. Without it, a bad image raises when it is read
            (``FileNotFoundError`` / ``ValueError`` naming the file).
    """

    def __init__(self, index: pd.DataFrame, image_size: int, skip_bad: bool = False):
        missing = {"id", "path", "boneage", "male"} - set(index.columns)
        if missing:
            raise ValueError(f"index lacks columns {sorted(missing)}")
        if len(index) == 0:
            raise ValueError("index is empty: no images to read")
        if skip_bad:
            index = _drop_bad(index)
        self.index = index.reset_index(drop=True)
        self.image_size = int(image_size)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        row = self.index.iloc[i]
        img = resize_pad(load_image(row["path"]), self.image_size)
        return dict(image=torch.from_numpy(img.copy())[None],
                    age=torch.tensor(float(row["boneage"]), dtype=torch.float32),
                    male=torch.tensor(bool(row["male"])), id=str(row["id"]))


def _drop_bad(index: pd.DataFrame) -> pd.DataFrame:
    bad = check_images(index["path"])
    if bad:
        lines = "\n".join(f"{path}: {problem}" for path, problem in bad)
        warnings.warn(f"skipping {len(bad)} bad image(s):\n{lines}", stacklevel=3)
        index = index[~index["path"].isin([path for path, _ in bad])]
    if len(index) == 0:
        raise ValueError("no readable images left after skipping the bad ones")
    return index
