"""Side-by-side result tables for the book: the paper | our reference runs | this execution.

The book's Tables 1-3 put three sources next to each other, each labelled with its data,
profile and hardware. Every source is a *metrics dict* in the format of
:func:`arcnn_lib.evaluation.evaluator.evaluate` (``mae``, ``mae_x``, ``mae_concat``, ``mae_parts``,
``n``, and the same under ``male`` / ``female``), or None when the source is absent (e.g. no
``results/reference/`` in this checkout). This module turns them into rows and formats the
cells, writing :data:`NOT_AVAILABLE` where a value is missing instead of inventing one.

Units (rows of Table 2), named as in the paper: ``X`` (whole image), ``C`` (concatenation),
``R1`` .. ``RK`` (the K best-scored parts), ``A_asb`` (the assembled estimate of Eq. 1).
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import pandas as pd

from ..model.units import unit_label, unit_suffixes
from .paper import PAPER_TABLE1, PAPER_TABLE2, PAPER_TABLE3

#: What a cell shows when its source has no value.
NOT_AVAILABLE = "not available"


def unit_names(k: int) -> List[str]:
    """Row names of Table 2 for K concatenated parts: X, C, R1..RK, A_asb."""
    suffixes = unit_suffixes(k)
    return [unit_label(s) for s in suffixes[1:] + suffixes[:1]]


def sex_metrics(metrics: Optional[Mapping], sex: Optional[str] = None) -> Optional[Mapping]:
    """The metrics of one sex (``male`` / ``female``), or of all images (``sex=None``).

    Returns None when ``metrics`` is None or holds no image of that sex (``n == 0``).
    """
    if metrics is None:
        return None
    m = metrics if sex is None else metrics.get(sex)
    if not m or not m.get("n"):
        return None
    return m


def unit_maes(metrics: Optional[Mapping], k: int) -> Dict[str, Optional[float]]:
    """MAE per unit (``X``, ``C``, ``R1``..``RK``, ``A_asb``) of a metrics dict.

    Parts are in the order of ``mae_parts`` (best-scored first). Units the model does not
    have (the baseline has no C or parts) and absent sources give None.
    """
    out: Dict[str, Optional[float]] = {name: None for name in unit_names(k)}
    if not metrics or not metrics.get("n"):
        return out
    out["X"] = metrics.get("mae_x")
    out["C"] = metrics.get("mae_concat")
    parts = list(metrics.get("mae_parts") or [])
    for i in range(k):
        out[f"R{i + 1}"] = parts[i] if i < len(parts) else None
    out["A_asb"] = metrics.get("mae")
    return out


def pooled_mae(pairs: Iterable[Tuple[Optional[float], Optional[int]]]) -> Optional[float]:
    """The n-weighted mean of several MAEs: ``sum(n_i * mae_i) / sum(n_i)``.

    This is the MAE over the union of the test sets (e.g. the male and the female model's
    test images together). None when any MAE or n is missing, or when no image is left.
    """
    total, count = 0.0, 0
    for mae, n in pairs:
        if mae is None or n is None:
            return None
        total += float(mae) * int(n)
        count += int(n)
    return total / count if count else None


def fmt(value, digits: int = 2) -> str:
    """A table cell: a number with ``digits`` decimals, a string as is, or NOT_AVAILABLE."""
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, str):
        return value
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if v != v:  # NaN
        return NOT_AVAILABLE
    return f"{v:.{digits}f}"


def side_by_side(columns: Mapping[str, Mapping[str, object]], rows: Sequence[str],
                 index_name: str = "", digits: int = 2) -> pd.DataFrame:
    """One formatted table: a column per source, a row per ``rows`` entry.

    Args:
        columns: ordered ``{column label: {row: value}}``; a value is a number, a string
            (shown as is, e.g. the paper's finding in words) or None (``not available``).
        rows: the row labels, in order; rows a column lacks are ``not available``.
        index_name: the name of the index (e.g. ``"K"`` or ``"unit"``).
        digits: decimals of the numbers.
    Returns:
        a DataFrame of strings, ready to display.
    """
    data = {label: [fmt(col.get(r) if col is not None else None, digits) for r in rows]
            for label, col in columns.items()}
    table = pd.DataFrame(data, index=pd.Index(list(rows), name=index_name or None))
    return table


def hardware_text(hardware) -> str:
    """A short name of the hardware in a provenance record (a dict or a string)."""
    if hardware is None:
        return "?"
    if isinstance(hardware, str):
        return hardware
    if hardware.get("gpu"):
        count = hardware.get("gpu_count") or 1
        return f"{count} x {hardware['gpu']}" if count > 1 else str(hardware["gpu"])
    threads = hardware.get("torch_threads") or hardware.get("cpu_count")
    return f"CPU ({threads} thread{'s' if threads != 1 else ''})" if threads else "CPU"


def reference_label(manifest: Optional[Mapping]) -> str:
    """Data / profile / hardware of the reference runs, from their ``manifest.json``."""
    if not manifest:
        return NOT_AVAILABLE
    parts = [str(manifest.get("data", "?")), str(manifest.get("profile", "?")),
             hardware_text(manifest.get("hardware"))]
    if manifest.get("epochs") is not None:
        parts.append(f"{manifest['epochs']} epochs")
    return " / ".join(parts)


def markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame of strings (e.g. from :func:`side_by_side`) as a GitHub Markdown table."""
    head = [table.index.name or ""] + [str(c) for c in table.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join([str(i)] + [str(v) for v in row]) + " |"
              for i, row in zip(table.index, table.itertuples(index=False))]
    return "\n".join(lines)


def paper_tables() -> Dict[str, pd.DataFrame]:
    """The paper's Tables 1-3 as printed (Liu et al. 2019), as small DataFrames of strings:
    ``table1`` (MAE per K, boys), ``table2`` (MAE per unit and sex, K = 3) and ``table3``
    (the methods it compares). MAE in months on the RSNA 200-image test set."""

    t1 = pd.DataFrame({"MAE, boys": {f"K = {k}": fmt(v) for k, v in PAPER_TABLE1.items()}})
    t1.index.name = "K"
    t2 = pd.DataFrame({sex: {u: fmt(v) for u, v in row.items()}
                       for sex, row in PAPER_TABLE2.items()})
    t2.index.name = "unit"
    t3 = pd.DataFrame([{"method": m, "stage": st, "trained on RSNA": "yes" if rsna else "no",
                        "MAE": fmt(v)} for m, st, rsna, v in PAPER_TABLE3]).set_index("method")
    return {"table1": t1, "table2": t2, "table3": t3}


def reference_markdown(tables: Mapping, manifest: Mapping) -> str:
    """Tables 1-3 of a reference set, each followed by the paper's, as Markdown.

    ``tables`` is the ``tables.json`` of :mod:`arcnn_lib.results.reproduce`, ``manifest`` its
    ``manifest.json``; every number comes from them or from the paper's tables
    (:func:`paper_tables`), none is typed. The two sources get separate tables: they differ
    in data, resolution, backbone and pretraining.
    """
    label = reference_label(manifest)
    pretrained = "ImageNet weights" if manifest.get("pretrained") else "trained from scratch"
    paper = paper_tables()
    cite = ("The paper's (Liu et al., MICCAI 2019: 448 px, ImageNet-pretrained ResNet-50, "
            "full-resolution RSNA radiographs, 200 test images), as printed:")
    out = [f"# Reference tables: {label}", "",
           f"Generated from `tables.json` and `manifest.json` by `python -m "
           f"arcnn_lib.results.reproduce`; {pretrained}; commit "
           f"`{manifest.get('git_commit', '?')}`, {manifest.get('date', '?')}. Command: "
           f"`{manifest.get('command', '?')}`. MAE in months on the test split. Each table of "
           "these runs is followed by the paper's; the two differ in data, resolution, "
           "backbone and pretraining, so they are not set side by side.", ""]
    t1 = {f"K = {r['K']}": r["mae"] for r in tables.get("table1_male_k", [])}
    rows1 = [f"K = {k}" for k in (1, 2, 3, 4)]
    out += ["## Table 1: K, boys", "",
            markdown_table(side_by_side({"reference": t1}, rows1, "K")), "", cite, "",
            markdown_table(paper["table1"]), ""]
    t2 = {row["sex"]: row for row in tables.get("table2_units", [])}
    k = max([int(u[1:]) for row in t2.values() for u in row if u[:1] == "R"] or [0])
    cols2 = {f"reference, {sex}": t2.get(sex, {}) for sex in ("male", "female")}
    out += ["## Table 2: units of the K = 3 models", "",
            markdown_table(side_by_side(cols2, unit_names(k), "unit")), "", cite, "",
            markdown_table(paper["table2"]), ""]
    t3 = tables.get("table3_mae", {})
    cols3 = {f"reference, {s}": {m: t3.get(m, {}).get(s) for m in ("baseline", "arcnn")}
             for s in ("male", "female", "all")}
    out += ["## Table 3: single-stage baseline against AR-CNN (K = 3)", "",
            markdown_table(side_by_side(cols3, ["baseline", "arcnn"], "model")), "",
            cite.replace("as printed:", "as printed (other methods' values as it quotes "
                         "them; its single-stage rows are other papers' networks, not this "
                         "baseline):"), "", markdown_table(paper["table3"]), ""]
    return "\n".join(out)
