"""A synthetic, radiograph-like data set of left hands whose bone age shows only locally.

Why: the book and the tests need data that run anywhere (no download, no patients) and
whose age cues sit in *known* places, so that the attention agent can be scored against
the true boxes.

What a phantom image is (PA view of a left hand, fingers up, thumb on the image's right):
forearm (radius, ulna), seven carpal bones, five metacarpals, fourteen phalanges, soft
tissue, a dark background, noise and a burned-in "L" marker in a corner (a distractor, as on
real films).

Where the age is. A skeletal maturity ``m = min(age / T, 1)`` with ``T = 228`` months for
boys and ``T = 200`` for girls (girls mature earlier) drives **only** these local cues:

* the carpal ossification centres appear one after another (capitate and hamate first,
  scaphoid and trapezoid last) and grow;
* the epiphyses of the distal radius, of the third metacarpal head and of the bases of the
  third finger's proximal, middle and distal phalanges appear as small nuclei, widen to the
  width of the shaft and beyond ("capping"), and their growth plates (dark gaps) narrow and
  close (fusion, in the order distal phalanx, middle, MCP, radius).

The other fingers are drawn as plain bones without epiphyses, so the boxes of
:data:`REGION_NAMES` hold all the age information. Hand size, rotation, position,
background, contrast, gamma, noise and the marker are drawn independently of age and sex:
they are nuisances. The cues are a few pixels at 256 px (a growth plate is at most ~3 px),
so a zoomed part shows them better than the whole image at the same input size.

Ages are uniform integers in [0, 228] months, sexes 50/50, both from ``seed``; image ``i``
uses the generator ``default_rng([seed, i])``, so the output is byte-identical for a seed.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import List, Tuple

import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from .layouts import KAGGLE_TRAIN_CSV, REGIONS_CSV
from .paths import default_cache_dir

PHANTOM_VERSION = 1
MAX_AGE = 228
MATURITY_AGE = {True: 228.0, False: 200.0}  # months at full maturity, by male
REGION_NAMES = ("radius", "carpals_proximal", "carpals_distal", "mcp3", "pip3", "dip3")
MIN_BOX = 0.09  # smallest region side, as a fraction of the image side

Region = Tuple[str, int, int, int, int]

# ---- canonical geometry: unit = image side, y down, hand centred near (0.5, 0.58) -------
# (centre x, centre y, full radius, onset maturity) of each carpal ossification centre
_CARPALS = {
    "capitate": (0.505, 0.612, 0.027, 0.00), "hamate": (0.447, 0.615, 0.023, 0.02),
    "triquetrum": (0.420, 0.660, 0.019, 0.15), "lunate": (0.477, 0.662, 0.020, 0.22),
    "trapezium": (0.598, 0.628, 0.019, 0.30), "trapezoid": (0.555, 0.610, 0.016, 0.33),
    "scaphoid": (0.545, 0.662, 0.021, 0.33),
}
_PROXIMAL_ROW = ("triquetrum", "lunate", "scaphoid")
# ray: metacarpal base, metacarpal head, phalanx lengths, bone radius
_RAYS = {
    2: ((0.570, 0.590), (0.600, 0.400), (0.115, 0.070, 0.050), 0.018),
    3: ((0.505, 0.592), (0.510, 0.385), (0.125, 0.080, 0.055), 0.019),
    4: ((0.445, 0.592), (0.425, 0.400), (0.115, 0.075, 0.050), 0.017),
    5: ((0.395, 0.605), (0.355, 0.430), (0.095, 0.060, 0.045), 0.015),
    1: ((0.615, 0.625), (0.690, 0.505), (0.085, 0.060), 0.019),
}
_JOINT = 0.014  # gap between bones at a joint
_RADIUS = ((0.575, 1.10), (0.565, 0.735), 0.032)
_ULNA = ((0.440, 1.10), (0.447, 0.750), 0.024)
# cue site -> (onset maturity, fusion start, fusion end)
_EPIPHYSES = {"radius": (0.06, 0.85, 1.00), "mcp3": (0.08, 0.78, 0.93),
              "pip3": (0.10, 0.75, 0.90), "dip3": (0.12, 0.72, 0.88)}
_GROW = 0.5  # maturity span from a centre's onset to its full (shaft) size


def maturity(age_months: float, male: bool) -> float:
    """Skeletal maturity in [0, 1]: ``age / T`` with T = 228 months (boys), 200 (girls)."""
    return float(min(max(age_months, 0.0) / MATURITY_AGE[bool(male)], 1.0))


def _smooth(a: float, b: float, x: float) -> float:
    t = min(max((x - a) / (b - a), 0.0), 1.0)
    return t * t * (3 - 2 * t)


class _Canvas:
    """Float images (H, W) and a canonical -> pixel similarity transform."""

    def __init__(self, size: int, scale: float, angle: float, shift: np.ndarray):
        self.size = size
        c, s = np.cos(angle), np.sin(angle)
        self.mat = scale * size * np.array([[c, -s], [s, c]])
        self.origin = (np.array([0.5, 0.5]) + shift) * size
        self.tissue = np.zeros((size, size), np.float32)
        self.bone = np.zeros((size, size), np.float32)

    def px(self, p) -> np.ndarray:
        return self.mat @ (np.asarray(p, float) - np.array([0.5, 0.56])) + self.origin

    def length(self, r: float) -> float:
        return r * abs(np.linalg.det(self.mat)) ** 0.5

    def _window(self, lo, hi):
        x0, y0 = np.maximum(np.floor(lo).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(hi).astype(int) + 1, self.size)
        if x1 <= x0 or y1 <= y0:
            return None
        ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
        xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5
        return (slice(y0, y1), slice(x0, x1)), xs, ys

    def capsule(self, layer, p0, p1, r, tubular=True):
        """A segment of radius r (canonical units); tubular bones are brighter at the rim."""
        a, b, r = self.px(p0), self.px(p1), self.length(r)
        win = self._window(np.minimum(a, b) - r - 1, np.maximum(a, b) + r + 1)
        if win is None:
            return
        sl, xs, ys = win
        d = b - a
        t = np.clip(((xs - a[0]) * d[0] + (ys - a[1]) * d[1]) / max(d @ d, 1e-9), 0, 1)
        dist = np.hypot(xs - a[0] - t * d[0], ys - a[1] - t * d[1])
        val = np.clip(r - dist + 0.5, 0, 1)
        if tubular:
            val = val * (0.72 + 0.28 * np.minimum(dist / r, 1.0) ** 2)
        np.maximum(layer[sl], val, out=layer[sl])

    def ellipse(self, layer, c, axis, half_across, half_along):
        """An ellipse with ``half_along`` on the unit vector ``axis`` (canonical units)."""
        cp = self.px(c)
        u = self.mat @ np.asarray(axis, float)
        u /= np.linalg.norm(u)
        ra, rb = self.length(half_across), self.length(half_along)
        win = self._window(cp - max(ra, rb) - 1, cp + max(ra, rb) + 1)
        if win is None or min(ra, rb) <= 0:
            return
        sl, xs, ys = win
        dx, dy = xs - cp[0], ys - cp[1]
        along, across = (dx * u[0] + dy * u[1]) / rb, (dy * u[0] - dx * u[1]) / ra
        rho = np.sqrt(along ** 2 + across ** 2)
        val = np.clip((1 - rho) * min(ra, rb) + 0.5, 0, 1) * (0.8 + 0.2 * np.minimum(rho, 1))
        np.maximum(layer[sl], val, out=layer[sl])


def _unit(a, b) -> np.ndarray:
    d = np.asarray(b, float) - np.asarray(a, float)
    return d / np.linalg.norm(d)


def _epiphysis(cv: _Canvas, tip, axis, r_bone: float, site: str, m: float) -> None:
    """The epiphysis beyond a shaft's end ``tip`` along ``axis`` at maturity m."""
    onset, f0, f1 = _EPIPHYSES[site]
    grow = min(max((m - onset) / _GROW, 0.0), 1.0) ** 0.7
    if grow <= 0:
        return
    half_across = r_bone * (grow + 0.18 * _smooth(onset + _GROW, f1, m))
    half_along = min(half_across, 0.42 * r_bone)
    fused = _smooth(f0, f1, m)
    gap = 0.5 * r_bone * (1 - fused) - 0.9 * half_along * fused
    centre = np.asarray(tip, float) + axis * (gap + half_along)
    cv.ellipse(cv.bone, centre, axis, half_across, half_along)


def _draw_ray(cv: _Canvas, ray: int, m: float, cues: dict) -> None:
    base, head, lengths, r = _RAYS[ray]
    axis = _unit(base, head)
    if ray == 1:  # the thumb bends outwards
        c, s = np.cos(-0.35), np.sin(-0.35)
        axis = np.array([[c, -s], [s, c]]) @ axis
    cv.capsule(cv.bone, base, head, r)
    start = np.asarray(head, float) + axis * _JOINT
    if ray == 3:
        _epiphysis(cv, np.asarray(head) + axis * r, axis, r * 0.9, "mcp3", m)
        cues["mcp3"] = [start]
        start = start + axis * 0.6 * r  # room for the proximal phalanx's base epiphysis
    sites = ("mcp3", "pip3", "dip3")
    rk = r
    for k, length in enumerate(lengths):
        end = start + axis * length
        cv.capsule(cv.bone, start + axis * rk, end - axis * rk * 0.6, rk * 0.85)
        if ray == 3:
            _epiphysis(cv, start + axis * (rk * 0.15), -axis, rk * 0.85, sites[k], m)
            cues.setdefault(sites[k], []).append(start)
        cv.capsule(cv.tissue, start, end + axis * 0.012, r * 2.1, tubular=False)
        start, rk = end + axis * _JOINT, rk * 0.88
    cv.capsule(cv.tissue, base, head, r * 2.3, tubular=False)


def _draw_forearm_and_carpals(cv: _Canvas, m: float) -> None:
    cv.capsule(cv.tissue, (0.5, 1.15), (0.5, 0.70), 0.125, tubular=False)
    cv.ellipse(cv.tissue, (0.50, 0.50), (0, 1), 0.165, 0.14)
    for (p0, p1, r) in (_RADIUS, _ULNA):
        cv.capsule(cv.bone, p0, p1, r)
    p0, p1, r = _RADIUS
    axis = _unit(p0, p1)
    _epiphysis(cv, np.asarray(p1) + axis * r * 0.6, axis, r, "radius", m)
    for name, (x, y, r_full, onset) in _CARPALS.items():
        grow = min(max((m - onset) / (_GROW + 0.05), 0.0), 1.0) ** 0.6
        if grow > 0:
            cv.ellipse(cv.bone, (x, y), (0.3, 1.0), r_full * grow, r_full * grow * 0.9)


def _region_boxes(cv: _Canvas, cues: dict) -> List[Region]:
    """Pixel boxes (name, x1, y1, x2, y2) of the cue sites, at least MIN_BOX of the side."""
    p0, p1, r = _RADIUS
    centres = {"radius": [np.asarray(p1) + _unit(p0, p1) * (r * 0.6 + 0.02)],
               "carpals_proximal": [np.array(_CARPALS[n][:2]) for n in _PROXIMAL_ROW],
               "carpals_distal": [np.array(v[:2]) for k, v in _CARPALS.items()
                                  if k not in _PROXIMAL_ROW],
               **cues}
    half = {"radius": 0.045, "carpals_proximal": 0.03, "carpals_distal": 0.03}
    boxes = []
    for name in REGION_NAMES:
        pts = np.array([cv.px(p) for p in centres[name]])
        pad = cv.length(half.get(name, 0.025))
        lo, hi = pts.min(0) - pad, pts.max(0) + pad
        grow = np.maximum(MIN_BOX * cv.size - (hi - lo), 0) / 2
        lo, hi = np.clip(lo - grow, 0, cv.size), np.clip(hi + grow, 0, cv.size)
        boxes.append((name, int(np.floor(lo[0])), int(np.floor(lo[1])),
                      int(np.ceil(hi[0])), int(np.ceil(hi[1]))))
    return boxes


def _marker(img: np.ndarray, rng: np.random.Generator) -> None:
    """Burn a bright 'L' into one of the two upper corners (in place)."""
    size = img.shape[0]
    h = int(rng.uniform(0.06, 0.09) * size)
    w, t = int(h * 0.65), max(1, h // 5)
    x0 = int(rng.uniform(0.03, 0.08) * size)
    if rng.random() < 0.5:
        x0 = size - x0 - w
    y0 = int(rng.uniform(0.03, 0.10) * size)
    v = rng.uniform(0.85, 1.0)
    img[y0:y0 + h, x0:x0 + t] = v
    img[y0 + h - t:y0 + h, x0:x0 + w] = v


def render_hand(age_months: float, male: bool, rng: np.random.Generator,
                size: int = 256) -> Tuple[np.ndarray, List[Region]]:
    """Render one phantom left hand.

    Args:
        age_months: bone age in months, in [0, 240] (the maturity saturates at T).
        male: sex; girls reach each stage earlier (see :func:`maturity`).
        rng: source of all nuisances (pose, size, contrast, gamma, noise, marker).
        size: side of the square image in pixels.
    Returns:
        image uint8 (size, size) and the cue regions as ``(name, x1, y1, x2, y2)`` in pixels
        of that image, one per :data:`REGION_NAMES`.
    """
    if not 0 <= age_months <= 240:
        raise ValueError(f"age_months must be in [0, 240], got {age_months}")
    m = maturity(age_months, male)
    cv = _Canvas(size, rng.uniform(0.74, 0.88), np.deg2rad(rng.uniform(-12, 12)),
                 rng.uniform(-0.05, 0.05, 2))
    cues: dict = {}
    _draw_forearm_and_carpals(cv, m)
    for ray in (1, 2, 3, 4, 5):
        _draw_ray(cv, ray, m, cues)
    img = (rng.uniform(0.03, 0.12) + cv.tissue * rng.uniform(0.15, 0.25)
           + cv.bone * rng.uniform(0.42, 0.58))
    img += np.linspace(0, rng.uniform(-0.04, 0.04), size, dtype=np.float32)[None, :]
    img = np.clip(img, 0, 1) ** rng.uniform(0.8, 1.25) * rng.uniform(0.8, 1.15)
    _marker(img, rng)
    img += rng.normal(0, rng.uniform(0.008, 0.025), img.shape)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), _region_boxes(cv, cues)


_README = """# Phantom bone-age data (synthetic)

Synthetic radiograph-like left hands written by `arcnn_lib.data.phantom.make_phantom`
(n={n}, seed={seed}, size={size} px, phantom version {version}). No real patient data.

- `boneage-training-dataset.csv`: id, boneage (months, uniform integers 0-{max_age}), male.
- `boneage-training-dataset/<id>.png`: 8-bit grey, {size} x {size}.
- `phantom-regions.csv`: id, region, x1, y1, x2, y2 -- the true boxes (pixels of the
  written image) of the only places where the age shows: {regions}.
"""


def sample_labels(n: int, seed: int) -> pd.DataFrame:
    """The n labels of a phantom set: id ('1'..'n'), boneage (uniform integer months in
    [0, 228]), male (fair coin), all from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    ages = rng.integers(0, MAX_AGE + 1, n)
    male = rng.random(n) < 0.5
    return pd.DataFrame({"id": [str(i + 1) for i in range(n)], "boneage": ages, "male": male})


def make_phantom(dest, n: int, seed: int = 0, size: int = 256, progress: bool = True) -> Path:
    """Write a phantom data set of ``n`` images in the Kaggle layout to ``dest``.

    Writes ``boneage-training-dataset.csv`` (id, boneage months, male True/False),
    ``boneage-training-dataset/<id>.png``, ``phantom-regions.csv`` (id, region, x1, y1, x2,
    y2 in pixels) and ``README.md``. Byte-identical for the same (n, seed, size). Image i
    is rendered with ``default_rng([seed, i])``. Returns ``dest``.
    """
    if n < 1 or size < 64:
        raise ValueError(f"need n >= 1 and size >= 64, got n={n}, size={size}")
    dest = Path(dest)
    images = dest / "boneage-training-dataset"
    images.mkdir(parents=True, exist_ok=True)
    labels = sample_labels(n, seed)
    rows = []
    for i, r in enumerate(tqdm(labels.itertuples(index=False), total=n, disable=not progress,
                               desc="phantom", unit="img")):
        img, regions = render_hand(float(r.boneage), bool(r.male),
                                   np.random.default_rng([seed, i]), size)
        Image.fromarray(img).save(images / f"{r.id}.png", compress_level=1)
        rows += [(r.id, *reg) for reg in regions]
    labels.to_csv(dest / KAGGLE_TRAIN_CSV, index=False)
    pd.DataFrame(rows, columns=["id", "region", "x1", "y1", "x2", "y2"]).to_csv(
        dest / REGIONS_CSV, index=False)
    (dest / "README.md").write_text(_README.format(
        n=n, seed=seed, size=size, version=PHANTOM_VERSION, max_age=MAX_AGE,
        regions=", ".join(REGION_NAMES)))
    return dest


def read_regions(root) -> pd.DataFrame:
    """The true cue boxes of a phantom folder: id (str), region, x1, y1, x2, y2 (int px)."""
    path = Path(root) / REGIONS_CSV
    if not path.is_file():
        raise FileNotFoundError(f"no {REGIONS_CSV} in {root}: not a phantom data set")
    return pd.read_csv(path, dtype={"id": str, "region": str})


def phantom_folder(n: int = 800, seed: int = 0, size: int = 256, cache_dir=None,
                   progress: bool = True) -> Path:
    """A phantom set under ``cache_dir`` (default :func:`default_cache_dir`), generated once
    per (n, seed, size, version) and reused after; written to a temporary folder and renamed
    into place, so an interrupted run never leaves a half set behind."""
    dest = default_cache_dir(cache_dir) / f"phantom-v{PHANTOM_VERSION}-n{n}-seed{seed}-{size}px"
    if (dest / "README.md").is_file():
        return dest
    tmp = dest.with_name(f"{dest.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    make_phantom(tmp, n, seed, size, progress)
    try:
        os.replace(tmp, dest)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
