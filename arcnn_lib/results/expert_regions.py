"""Score AR-CNN models against expert ossification regions on real hands.

::

    python -m arcnn_lib expert-regions --checkpoint male.pt female.pt --data DIR \\
        --rois rsna100-rois.csv --out results/rsna100_rois/trained

Each checkpoint is scored on the annotated images of the sex it was trained on (a model
trained on both sexes scores all of them), with its own split (``split.csv`` beside the
checkpoint, as in :mod:`arcnn_lib.evaluation.evaluator`). ``DIR`` is any data folder in an RSNA layout
that holds the annotated images; the regions file is read with
:func:`arcnn_lib.data.rois.read_rois` and mapped into the network's input pixels through
the cache's resize and pad.

What is measured, per image and then averaged:

* the pointing game of :mod:`arcnn_lib.evaluation.roi_pointing`: top-1 and top-K hits of the parts
  the model selects, which region types they land on, random anchors (chance), and one
  fixed anchor chosen on the **training split's** annotated images of the same sex (the data
  prior), scored only on the others (``heldout``: the validation and test splits);
* the attribution of :mod:`arcnn_lib.evaluation.roi_attribution`: share of |map| inside the expert
  boxes for IG, Occlusion and Grad-CAM of A_X and A_C, against the boxes' area share;
* the model-randomisation sanity check on the first ``--sanity-images`` images of each
  checkpoint: rank correlation of the maps of the model and of a re-initialised copy.

Outputs in ``OUT``: ``summary.json`` (``n_images``, ``top1_hit``, ``topk_hit``,
``random_top1``, ``fixed_anchor_top1``, ``per_region``, ``by_sex``,
``attribution_mass_in_rois``, ``roi_area_share``, ``randomisation``, ``heldout``,
``sex_contrast`` and provenance), ``per_image.csv`` (one row per annotated image) and,
with ``--figure-per-sex N``, ``fig3_expert.png``: N held-out images of each sex spread over
the age range, expert boxes beside the top-K parts (:func:`arcnn_lib.results.roi_figures.fig3_expert`).
The book reads committed results back with :func:`load_expert_results`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
import torch

from ..data.rois import BOX, REGION_TYPES, read_rois, rois_in_input_pixels
from ..evaluation.roi_attribution import (attribution_maps, key_name, mass_in_regions,
                              randomisation_check, reinitialised)
from ..evaluation.roi_pointing import best_fixed_anchor, image_hits, landing, summarise

#: Where the book's committed results live, relative to the checkout.
RESULTS_DIR = Path("results") / "rsna100_rois"


@dataclass
class Scored:
    """What :func:`score_checkpoint` measured: ``frame`` (one row per annotated image),
    and for drawing, ``images`` uint8 (N, S, S), ``regions`` N tensors (R_n, 4), ``types``
    N lists of R_n names, ``boxes`` (N, M, 4) the parts, best first, all in input pixels."""

    frame: pd.DataFrame
    images: np.ndarray
    regions: list
    types: list
    boxes: np.ndarray


def score_checkpoint(checkpoint: os.PathLike, data: str, rois: pd.DataFrame,
                     rois_name: str = "the regions file", cache_dir: Optional[str] = None,
                     attribution: bool = True, attribution_images: str = "heldout",
                     n_steps: int = 16, window: Optional[int] = None,
                     stride: Optional[int] = None, sanity_images: int = 16,
                     random_seed: int = 1, seed: int = 0, batch_size: int = 64,
                     progress: bool = False) -> Scored:
    """Per-image pointing and attribution scores of one checkpoint (module doc).

    Returns a :class:`Scored` whose ``frame`` has ``id``, ``male``, ``boneage``, ``pred``, ``split``, the columns of
    :func:`arcnn_lib.evaluation.roi_pointing.image_hits`, ``top1_region`` (the types the best part
    lands on, ``+``-joined, or ``none``), ``fixed_region`` (the same for the fixed anchor),
    the best part's box ``part1_x1 .. part1_y2``, and
    with ``attribution`` ``roi_area`` and ``mass_<method>_A_<unit>`` (plus
    ``rho_<method>_A_<unit>`` of the sanity check on the first ``sanity_images`` of them), on
    the images ``attribution_images`` names (``heldout``: outside the training split, as
    the fixed-anchor comparison; ``all``) and NaN on the others. ``window`` and ``stride``
    are Occlusion's (default S / 8 and S / 16).
    """
    if attribution_images not in ("heldout", "all"):
        raise ValueError(f"attribution_images must be 'heldout' or 'all', got "
                         f"{attribution_images!r}")
    from ..data.layouts import read_index
    from ..engine.run_data import prepare_run_data
    from ..engine.config import TrainConfig
    from ..evaluation.evaluator import _default_split_csv, load_model, predict
    from .figures import part_boxes

    checkpoint = Path(checkpoint)
    model, cfg, state = load_model(checkpoint)
    if not hasattr(model, "navigator"):
        raise ValueError(f"{checkpoint}: a baseline model has no parts to score")
    tcfg = state.get("train_config", {})
    sex = tcfg.get("sex", "all")
    split_file = _default_split_csv(checkpoint, state)
    run = prepare_run_data(data, cfg.image_size, seed=TrainConfig.from_dict(tcfg).effective_split_seed,
                           fractions=tuple(tcfg.get("split_fractions", (0.7, 0.15, 0.15))),
                           cache_dir=cache_dir, sex=sex, split_csv=split_file, progress=progress)
    boxes = rois_in_input_pixels(rois, read_index(run.root), cfg.image_size, rois_name)
    row_of = {i: r for r, i in enumerate(run.ids)}
    rows = np.array(sorted(row_of[i] for i in boxes["id"].unique() if run.selected[row_of[i]]))
    if len(rows) == 0:
        raise ValueError(f"{rois_name} has no image of sex {sex!r} in {data}")
    pred = predict(model, run, rows, cfg, torch.device("cpu"), batch_size=batch_size)
    ids = pred["id"].astype(str).tolist()
    groups = {i: g for i, g in boxes.groupby("id")}
    regions = [torch.as_tensor(groups[i][BOX].to_numpy(), dtype=torch.float64) for i in ids]
    types = [groups[i]["region"].tolist() for i in ids]
    split = run.split[rows]
    train = np.flatnonzero(split == "train")
    if len(train) == 0:
        raise ValueError(f"{checkpoint}: no annotated image of its training split, so the "
                         "fixed-anchor prior cannot be chosen")
    anchors = model.anchors.detach().cpu()
    fixed = best_fixed_anchor(anchors, [regions[j] for j in train])
    b, s = part_boxes(pred)
    hits = image_hits(torch.from_numpy(b.copy()), torch.from_numpy(s.copy()), regions, types, anchors,
                      k=max(1, cfg.num_concat), fixed_anchor=fixed, seed=seed)
    frame = pd.concat([pred[["id", "male", "boneage", "pred"]].reset_index(drop=True),
                       pd.DataFrame({"split": split, "sex_model": sex, "k": max(1, cfg.num_concat),
                                     "fixed_anchor": fixed}), hits], axis=1)
    frame["top1_region"] = [
        "+".join(t for t in REGION_TYPES if r[f"top1_{t}"]) or "none"
        for _, r in hits.iterrows()]
    fixed_box = anchors[fixed][None]
    frame["fixed_region"] = [
        "+".join(t for t, on in zip(REGION_TYPES, landing(fixed_box, reg, ty)[0]) if on)
        or "none" for reg, ty in zip(regions, types)]
    for c in BOX:
        frame[f"part1_{c}"] = pred[f"part1_{c}"].to_numpy()
    if attribution:
        take = np.flatnonzero(split != "train") if attribution_images == "heldout" \
            else np.arange(len(rows))
        _attribution_columns(frame, model, run, rows, take, b, regions,
                             dict(n_steps=n_steps, window=window, stride=stride),
                             sanity_images, random_seed)
    return Scored(frame, np.asarray(run.images[rows]), regions, types, b)


def _attribution_columns(frame: pd.DataFrame, model, run, rows: np.ndarray, take: np.ndarray,
                         boxes: np.ndarray, regions: list, kw: dict, sanity_images: int,
                         random_seed: int) -> None:
    """Add ``roi_area``, ``mass_*`` (on the images ``take``) and ``rho_*`` (on the first
    ``sanity_images`` of them) to ``frame``, NaN elsewhere (see :func:`score_checkpoint`)."""
    from ..data.augment import to_float

    images = to_float(torch.from_numpy(np.asarray(run.images[rows[take]]))[:, None])
    male = torch.from_numpy(run.male[rows[take]])
    part = torch.from_numpy(boxes[take]).float()
    maps = attribution_maps(model, images, male, part, **kw)

    def put(name, values, where=take):
        col = np.full(len(frame), np.nan)
        col[where] = values
        frame[name] = col

    masses = mass_in_regions(maps, [regions[j] for j in take])
    put("roi_area", next(iter(masses.values()))["area"])
    for key, r in masses.items():
        put(f"mass_{key_name(key).replace(' ', '_')}", r["mass"])
    n = min(sanity_images, len(take))
    if n:
        fresh = reinitialised(model, random_seed)
        rnd = attribution_maps(fresh, images[:n], male[:n], part[:n], **kw)
        sub = {k: v[:n] for k, v in maps.items()}
        for key, rho in randomisation_check(sub, rnd).items():
            put(f"rho_{key_name(key).replace(' ', '_')}", rho, take[:n])


def _mean(frame: pd.DataFrame, col: str) -> float:
    return float(frame[col].mean()) if col in frame and frame[col].notna().any() else float("nan")


def summarise_frame(frame: pd.DataFrame) -> Dict[str, object]:
    """Rates of a per-image frame: the pointing game on every image, the fixed anchor with the
    model beside it on the held-out images, attribution mass and the sanity check."""
    out = summarise(frame.drop(columns=["fixed_top1"]))
    held = frame[frame["split"] != "train"]
    out["heldout"] = {**summarise(held), "images": "annotated images of the validation and "
                      "test splits (the fixed anchor was chosen on the training split's)"}
    out["fixed_anchor_top1"] = out["heldout"].get("fixed_anchor_top1", float("nan"))
    mass = [c for c in frame if c.startswith("mass_")]
    if mass:
        names = {c: c[len("mass_"):].replace("_", " ", 1) for c in mass}
        out["attribution_mass_in_rois"] = {names[c]: _mean(frame, c) for c in mass}
        out["roi_area_share"] = {names[c]: _mean(frame, "roi_area") for c in mass}
        rho = {names[c]: frame["rho_" + c[len("mass_"):]].dropna() for c in mass
               if "rho_" + c[len("mass_"):] in frame}
        out["randomisation"] = {k: {"n": int(len(v)), "mean_spearman": float(v.mean()),
                                    "median_spearman": float(v.median())}
                                for k, v in rho.items() if len(v)}
    return out


def sex_contrast(frame: pd.DataFrame) -> Dict[str, object]:
    """The paper's Fig. 3 sex claim in numbers: girls' parts on carpals (Wrist) and proximal
    phalanges (their joints: MCP, PIP), boys' on proximal phalanges. Share of top-K parts per
    type, girls minus boys, with the standard error of the difference of two means."""
    res = {}
    g, b = frame[~frame["male"]], frame[frame["male"]]
    for name, cols in (("Wrist", ["topk_Wrist"]), ("MCP+PIP", ["topk_MCP", "topk_PIP"])):
        vg, vb = g[cols].sum(axis=1), b[cols].sum(axis=1)
        if len(vg) > 1 and len(vb) > 1:
            se = float(np.sqrt(vg.var() / len(vg) + vb.var() / len(vb)))
            res[name] = {"female": float(vg.mean()), "male": float(vb.mean()),
                         "female_minus_male": float(vg.mean() - vb.mean()), "se": se}
    return res


def summary(frame: pd.DataFrame) -> Dict[str, object]:
    """``summary.json``'s measurements (without provenance) from the per-image frame."""
    out = {"n_images": int(len(frame)), **summarise_frame(frame)}
    out["by_sex"] = {sex: summarise_frame(frame[frame["male"] == (sex == "male")])
                     for sex in ("male", "female") if (frame["male"] == (sex == "male")).any()}
    out["sex_contrast"] = sex_contrast(frame)
    out["hit_rule"] = ("a part hits when its centre lies inside an expert box of its image; "
                       "it lands on every region type whose box holds its centre")
    return out


def spread_over_age(frame: pd.DataFrame, mask: np.ndarray, n: int) -> np.ndarray:
    """Positions of ``n`` rows of ``mask``, evenly spaced in age order."""
    pos = np.flatnonzero(mask)
    pos = pos[np.argsort(frame["boneage"].to_numpy()[pos], kind="stable")]
    if len(pos) == 0:
        return pos
    return pos[np.linspace(0, len(pos) - 1, min(n, len(pos))).round().astype(int)]


def draw_figure(scored: Sequence[Scored], per_sex: int, label: Optional[str] = None):
    """Fig. 3 with expert regions: ``per_sex`` held-out images of each sex (boys first),
    spread over the age range, from the checkpoint that scored them."""
    from .roi_figures import fig3_expert

    panels = []
    for sex in (True, False):
        for sc in scored:
            f = sc.frame
            for j in spread_over_age(f, (f["male"] == sex).to_numpy()
                                     & (f["split"] != "train").to_numpy(), per_sex):
                panels.append((sc, j))
    k = int(scored[0].frame["k"].iloc[0]) if scored else 1
    titles = [f"{'boy' if sc.frame['male'][j] else 'girl'}, {sc.frame['boneage'][j]:.0f} mo "
              f"({sc.frame['split'][j]})" for sc, j in panels]
    return fig3_expert([sc.images[j] for sc, j in panels], [sc.regions[j] for sc, j in panels],
                       [sc.types[j] for sc, j in panels], [sc.boxes[j] for sc, j in panels],
                       k=k, titles=titles, ncols=4,
                       suptitle="Fig. 3 against expert ossification regions (held-out images)",
                       label=label)


def load_expert_results(which: str = "trained", root=None) -> Optional[dict]:
    """The committed results of one scoring run (``results/rsna100_rois/<which>``), or None:
    {"root": Path, "summary": dict, "per_image": DataFrame}."""
    from .reference import _find

    found = _find(root, RESULTS_DIR / which, "summary.json")
    if found is None:
        return None
    return {"root": found.parent, "summary": json.loads(found.read_text()),
            "per_image": pd.read_csv(found.parent / "per_image.csv", dtype={"id": str})}


def _portable(path: str) -> str:
    """A path inside the working directory as written; anything else as <its name>."""
    p = Path(path)
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return f"<{p.name}>"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m arcnn_lib expert-regions", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", nargs="+", required=True,
                   help="one or more AR-CNN checkpoints (e.g. one per sex)")
    p.add_argument("--data", required=True, help="data folder holding the annotated images")
    p.add_argument("--rois", required=True, help="regions CSV (id, region, x1 .. y2_orig)")
    p.add_argument("--out", required=True, help="folder for summary.json and per_image.csv")
    p.add_argument("--no-attribution", dest="attribution", action="store_false",
                   help="pointing game only (fast)")
    p.add_argument("--attribution-images", default="heldout", choices=("heldout", "all"),
                   help="images to attribute: outside the training split (default) or all")
    p.add_argument("--ig-steps", type=int, default=16)
    p.add_argument("--occlusion-window", type=int, help="pixels (default: input side / 8)")
    p.add_argument("--occlusion-stride", type=int, help="pixels (default: input side / 16)")
    p.add_argument("--sanity-images", type=int, default=16,
                   help="images per checkpoint for the randomisation check (0: skip)")
    p.add_argument("--random-seed", type=int, default=1,
                   help="seed of the re-initialised model of the sanity check")
    p.add_argument("--seed", type=int, default=0, help="seed of the random anchors")
    p.add_argument("--cache-dir")
    p.add_argument("--num-threads", type=int)
    p.add_argument("--label", default=None, help="a name for the models, stored in the summary")
    p.add_argument("--figure-per-sex", type=int, default=0,
                   help="draw fig3_expert.png with this many held-out images per sex")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    from ..data.rois import RoiFileError
    from ..engine.runtime import provenance, set_threads

    parser = build_parser()
    a = parser.parse_args(argv)
    t0 = time.time()
    set_threads(a.num_threads)
    try:
        if not Path(a.data).is_dir():
            raise FileNotFoundError(f"--data: folder {a.data!r} does not exist")
        rois = read_rois(a.rois)
        scored: List[Scored] = []
        for ck in a.checkpoint:
            scored.append(score_checkpoint(
                ck, a.data, rois, rois_name=a.rois, cache_dir=a.cache_dir,
                attribution=a.attribution, attribution_images=a.attribution_images,
                n_steps=a.ig_steps, window=a.occlusion_window, stride=a.occlusion_stride,
                sanity_images=a.sanity_images,
                random_seed=a.random_seed, seed=a.seed))
            scored[-1].frame["checkpoint"] = Path(ck).name
    except (RoiFileError, ValueError, FileNotFoundError) as e:
        parser.error(str(e))
    frame = pd.concat([sc.frame for sc in scored], ignore_index=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.figure_per_sex:
        draw_figure(scored, a.figure_per_sex, a.label).savefig(
            out / "fig3_expert.png", dpi=100)
    frame.to_csv(out / "per_image.csv", index=False, float_format="%.6g")
    command = ("python -m arcnn_lib expert-regions --checkpoint "
               + " ".join(_portable(c) for c in a.checkpoint)
               + f" --data {_portable(a.data)} --rois {_portable(a.rois)} --out {_portable(a.out)}"
               + ("" if a.attribution else " --no-attribution")
               + f" --attribution-images {a.attribution_images} --ig-steps {a.ig_steps}"
               + (f" --occlusion-window {a.occlusion_window}" if a.occlusion_window else "")
               + (f" --occlusion-stride {a.occlusion_stride}" if a.occlusion_stride else "")
               + f" --sanity-images {a.sanity_images}"
               + f" --random-seed {a.random_seed} --seed {a.seed}")
    res = {"label": a.label, **summary(frame), "command": command,
           "checkpoints": [Path(c).name for c in a.checkpoint],
           "rois": Path(a.rois).name, **provenance(torch.device("cpu")),
           "wall_seconds": time.time() - t0}
    (out / "summary.json").write_text(json.dumps(res, indent=2, default=float))
    print(f"{len(frame)} images: top-1 hit {res['top1_hit']:.3f} (random {res['random_top1']:.3f}); "
          f"held out: {res['heldout']['top1_hit']:.3f} vs fixed anchor "
          f"{res['fixed_anchor_top1']:.3f}; wrote {out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
