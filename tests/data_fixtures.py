"""Builders of tiny data folders in each public layout, for the data-layer tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image


def hand_like(h: int = 24, w: int = 16, seed: int = 0) -> np.ndarray:
    """A small uint8 (h, w) test image with structure (not constant)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w), dtype=np.uint8)


def write_png(path: Path, img: np.ndarray, mode: str = "L") -> Path:
    """Write ``img`` (uint8 (H, W)) as an 8-bit ('L'), 16-bit ('I;16'), palette ('P') or
    'RGB' PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "L":
        im = Image.fromarray(img)
    elif mode == "I;16":
        im = Image.fromarray(img.astype(np.uint16) * 16 + 100)  # 12 bits used, offset
    elif mode == "P":
        im = Image.fromarray(img).convert("P")
    elif mode == "RGB":
        im = Image.fromarray(np.stack([img] * 3, -1))
    else:
        raise ValueError(mode)
    im.save(path)
    return path


def make_kaggle(root: Path, n: int = 6, nested: bool = False, with_test: bool = True) -> Path:
    """The Kaggle copy: training CSV (+ test CSV), flat or nested image folders."""
    root.mkdir(parents=True, exist_ok=True)
    train_dir = root / "boneage-training-dataset"
    if nested:
        train_dir = train_dir / "boneage-training-dataset"
    ids = [1377 + i for i in range(n)]
    pd.DataFrame({"id": ids, "boneage": [12 * (i + 1) for i in range(n)],
                  "male": [i % 2 == 0 for i in range(n)]}).to_csv(
        root / "boneage-training-dataset.csv", index=False)
    for i in ids:
        write_png(train_dir / f"{i}.png", hand_like(seed=i))
    if with_test:
        test_dir = root / "boneage-test-dataset" / "boneage-test-dataset"
        pd.DataFrame({"Case ID": [4360, 4361], "Sex": ["M", "F"]}).to_csv(
            root / "boneage-test-dataset.csv", index=False)
        for i in (4360, 4361):
            write_png(test_dir / f"{i}.png", hand_like(seed=i))
    return root


def make_rsna2017(root: Path) -> Path:
    """The official release unzipped: train.csv, validation CSV, test XLSX, mixed PNG kinds."""
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": [1, 2, 3], "boneage": [10, 100, 200],
                  "male": [True, False, True]}).to_csv(root / "train.csv", index=False)
    for i, mode in zip((1, 2, 3), ("L", "I;16", "RGB")):
        write_png(root / "boneage-training-dataset" / f"{i}.png", hand_like(seed=i), mode)
    val = root / "Bone Age Validation Set"
    val.mkdir(parents=True)
    pd.DataFrame({"Image ID": [1386, 1392], "male": ["TRUE", "FALSE"],
                  "Bone Age (months)": [180, 36]}).to_csv(val / "Validation Dataset.csv",
                                                          index=False)
    write_png(val / "boneage-validation-dataset-1" / "1386.png", hand_like(seed=4), "P")
    write_png(val / "boneage-validation-dataset-2" / "1392.png", hand_like(seed=5))
    test = root / "Bone Age Test Set"
    test.mkdir(parents=True)
    pd.DataFrame({"Case ID": [4360, 4361], "Sex": ["M", "F"],
                  "Ground truth bone age (months)": [168.934, 169.652]}).to_excel(
        test / "Bone age ground truth.xlsx", index=False)
    for i in (4360, 4361):
        write_png(test / "Test Set Images" / f"{i}.png", hand_like(seed=i))
    return root


def make_csv_folder(root: Path, rows, image_ids=None) -> Path:
    """A Kaggle-style folder from explicit CSV ``rows`` (list of dicts); PNGs for
    ``image_ids`` (default: every row's id)."""
    root.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows)
    table.to_csv(root / "boneage-training-dataset.csv", index=False)
    ids = table["id"] if image_ids is None and "id" in table else (image_ids or [])
    for i in ids:
        write_png(root / "boneage-training-dataset" / f"{i}.png", hand_like(seed=int(i)))
    return root
