"""Reading the GPU benchmark of one training step (``benchmarks/train_step.py``).

The script writes one JSON file per run (``benchmark_train_step.json``, and
``benchmark_train_step_compile.json`` for the run with ``torch.compile``). Chapter 13 of the
book explains the measured ratios and the appendix on the speed targets judges them; both
read the files through the functions here. Variants: (a) the library's step, (b) the
NTS-Net-style step, (c) the bare backbone (the floor), (a') = ``a_compiled``, (a) under
``torch.compile``. Every function accepts ``None`` for a missing file and answers NaN (or an
empty table) for what it cannot read, so a copy of the book without GPU files still builds.
"""
from __future__ import annotations

import json
import math
from typing import Dict, Optional, Tuple

import pandas as pd

from .reference import FIRST_GPU_DIR, load_reference

NAN = float("nan")
#: How to measure again, on a GPU.
HOW_TO = "python benchmarks/train_step.py --json out.json"
#: Variant keys in the order the book shows them, with their short labels.
VARIANTS = {"b": "(b) NTS-style", "a": "(a) arcnn_lib", "c": "(c) backbone floor",
            "a_compiled": "(a') arcnn_lib, compiled"}


def lookup(d: Optional[dict], *keys, default=NAN):
    """``d[k1][k2]...``, or ``default`` where any level is missing or None."""
    for k in keys:
        if not isinstance(d, dict) or d.get(k) is None:
            return default
        d = d[k]
    return d


def load_step_benchmark(root=None) -> Tuple[Optional[dict], Optional[dict]]:
    """(main run, compile run) of the train-step benchmark, each a dict or None.

    Read from ``root`` when given, else from the newest reference set that holds a benchmark
    (``results/reference``), else from the first GPU set (:data:`FIRST_GPU_DIR`).
    """
    refs = ([load_reference(root)] if root is not None
            else [load_reference(), load_reference(folder=FIRST_GPU_DIR)])
    ref = next((r for r in refs if r is not None and r.benchmark is not None), None)
    if ref is None:
        return None, None
    path = ref.root / "benchmark_train_step_compile.json"
    return ref.benchmark, (json.loads(path.read_text()) if path.is_file() else None)


def _runs(bench: Optional[dict], bench_c: Optional[dict]):
    """(run label, variant key, variant dict) of both files, main run first."""
    out = []
    for run, b in (("main run", bench), ("compile run", bench_c)):
        for key in VARIANTS:
            v = lookup(b, "variants", key, default=None)
            if v is not None:
                out.append((run, key, v))
    return out


def variant_table(bench: Optional[dict], bench_c: Optional[dict]) -> pd.DataFrame:
    """The measured variants, one row per (run, variant), six columns: precision, memory
    layout, TF32 convolutions, samples/s, ms per step and the peak memory (GiB) of the timed
    steps (values formatted as text, ``-`` where not recorded)."""
    rows = {}
    for run, key, v in _runs(bench, bench_c):
        rows[(run, VARIANTS[key])] = {
            "precision": v.get("precision"),
            "layout": "channels_last" if v.get("channels_last") else "NCHW",
            "TF32 convs": {True: "yes", False: "no"}.get(v.get("tf32_convolutions"), "-"),
            "samples/s": _fmt(v.get("samples_per_s"), 0),
            "ms/step": _fmt(v.get("ms_per_step"), 1),
            "peak GiB": _fmt(v.get("peak_memory_gib"), 1)}
    table = pd.DataFrame(rows).T
    if len(table):
        table.index.names = ["run", "variant"]
    return table


def _fmt(value, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(a: float, b: float) -> float:
    return a / b if b and not (math.isnan(a) or math.isnan(b)) else NAN


def step_summary(bench: Optional[dict], bench_c: Optional[dict]) -> Dict[str, float]:
    """The numbers chapter 13 explains, NaN where a file or a field is missing.

    ``sps_*`` samples/s and ``ms_*`` ms per step of (a), (b), (c) in the main run and of
    (a') (``acomp``) in the compile run; ``ratio_ab``, ``ratio_ac`` (main run),
    ``ratio_ab2``, ``ratio_ac2`` (the compile run's eager variants), ``ratio_acomp_b``,
    ``ratio_acomp_c``, ``ratio_acomp_a`` (a' against the variants of its own run);
    ``ms_saved`` = ms(b) - ms(a), ``ms_beyond_floor`` = ms(a) - ms(c) and its share of a
    step of (a), ``ms_b_beyond_floor`` = ms(b) - ms(c); ``peak_a``, ``peak_b`` (GiB, timed
    steps) and ``peak_ratio`` = peak(a) / peak(b); ``batch``.
    """
    s = {}
    for key, run, name in (("a", bench, "a"), ("b", bench, "b"), ("c", bench, "c"),
                           ("acomp", bench_c, "a_compiled")):
        s[f"sps_{key}"] = float(lookup(run, "variants", name, "samples_per_s"))
        s[f"ms_{key}"] = float(lookup(run, "variants", name, "ms_per_step"))
    s["ratio_ab"], s["ratio_ac"] = _ratio(s["sps_a"], s["sps_b"]), _ratio(s["sps_a"], s["sps_c"])
    a2, b2, c2 = (float(lookup(bench_c, "variants", k, "samples_per_s")) for k in "abc")
    s["ratio_ab2"], s["ratio_ac2"] = _ratio(a2, b2), _ratio(a2, c2)
    s["ratio_acomp_b"] = _ratio(s["sps_acomp"], b2)
    s["ratio_acomp_c"] = _ratio(s["sps_acomp"], c2)
    s["ratio_acomp_a"] = _ratio(s["sps_acomp"], a2)
    s["ms_saved"] = s["ms_b"] - s["ms_a"]
    s["ms_beyond_floor"] = s["ms_a"] - s["ms_c"]
    s["share_beyond_floor"] = _ratio(s["ms_beyond_floor"], s["ms_a"])
    s["ms_b_beyond_floor"] = s["ms_b"] - s["ms_c"]
    s["peak_a"] = float(lookup(bench, "variants", "a", "peak_memory_gib"))
    s["peak_b"] = float(lookup(bench, "variants", "b", "peak_memory_gib"))
    s["peak_ratio"] = _ratio(s["peak_a"], s["peak_b"])
    s["batch"] = float(lookup(bench, "batch_size"))
    return s


def _verdict(value: float, target: float, at_most: bool) -> str:
    if math.isnan(value) or math.isnan(target):
        return "not measured"
    return "met" if (value <= target if at_most else value >= target) else "missed"


def target_checks(bench: Optional[dict], bench_c: Optional[dict],
                  targets: Optional[dict] = None) -> pd.DataFrame:
    """Each target against both runs: one row per quantity.

    ``targets`` (default: those recorded in the main run's file) maps ``"a/b"``, ``"a/c"``,
    optionally ``"a_compiled/b"``, and ``"peak_memory_gib"`` with ``"memory_batch"``. The
    verdicts are recomputed from the values (a ratio must reach its target, the memory stay
    at or below it), so other targets can judge the same measurements.
    """
    targets = targets or lookup(bench, "targets", default={})
    rows = {}
    for q in ("a/b", "a/c", "a_compiled/b"):
        if q in targets:
            rows[q] = (float(lookup(bench, "ratios", q)), float(lookup(bench_c, "ratios", q)),
                       float(targets[q]), False)
    if "peak_memory_gib" in targets:
        name = f"peak GiB of (a), batch {targets.get('memory_batch', '?')}"
        rows[name] = (float(lookup(bench, "memory", "peak_gib")),
                      float(lookup(bench_c, "memory", "peak_gib")),
                      float(targets["peak_memory_gib"]), True)
    table = {}
    for q, (main, comp, target, at_most) in rows.items():
        table[q] = {"target": f"{'<=' if at_most else '>='} {target:g}",
                    "main run": main, "main run: target": _verdict(main, target, at_most),
                    "compile run": comp,
                    "compile run: target": _verdict(comp, target, at_most)}
    out = pd.DataFrame(table).T.rename_axis("quantity")
    return out.astype({"main run": float, "compile run": float}) if len(out) else out


def provenance(bench: Optional[dict]) -> pd.Series:
    """Where and how the main run was measured: card, software, profile, batch, steps."""
    keys = {"device": "card", "torch": "torch", "cuda": "CUDA", "cudnn": "cuDNN",
            "profile": "profile", "batch_size": "batch", "warmup": "warm-up steps",
            "steps": "timed steps", "precision": "precision of (a), (c)",
            "cudnn_benchmark": "cuDNN autotuning", "optimizer": "optimizer",
            "git_commit": "library version measured"}
    return pd.Series({label: lookup(bench, k, default="-") for k, label in keys.items()},
                     name="value")
