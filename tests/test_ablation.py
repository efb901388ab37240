"""Controlled ablations on the validation split (arcnn_lib.results.ablation), on a tiny phantom."""
import json

import pandas as pd
import pytest

from arcnn_lib.results import ablation



def test_variants_share_a_split_and_report_validation_only(phantom48, tmp_path, monkeypatch):
    monkeypatch.setenv("ARCNN_CACHE", str(tmp_path / "cache"))
    out, work = tmp_path / "out", tmp_path / "work"
    ablation.main(["--data", str(phantom48), "--data-name", "phantom48", "--out", str(out),
                   "--work", str(work), "--epochs", "1", "--seeds", "0", "1",
                   "--variants", "arcnn", "arcnn_shared_stats", "baseline", "--quiet"])
    rows = pd.read_csv(out / "ablation.csv")
    assert len(rows) == 6 and set(rows["seed"]) == {0, 1}
    assert rows.loc[rows["variant"] == "baseline", "R1"].isna().all()
    assert rows.loc[rows["variant"] != "baseline", ["X", "C", "R1"]].notna().all().all()
    splits = {p.parent.name: p.read_bytes() for p in work.glob("*/split.csv")}
    assert len(splits) == 6 and len(set(splits.values())) == 1  # one split for all seeds
    report = json.loads((out / "ablation.json").read_text())
    assert report["split"] == "val" and str(tmp_path) not in json.dumps(report)
    assert report["summary"]["arcnn"]["n_seeds"] == 2
    # each run's number is its best validation epoch, as in its own metrics.csv
    hist = pd.read_csv(work / "arcnn_shared_stats_seed1" / "metrics.csv")
    got = rows[(rows["variant"] == "arcnn_shared_stats") & (rows["seed"] == 1)]
    assert got["A_asb"].iloc[0] == pytest.approx(hist["val_mae"].min(), rel=1e-6)


def test_summary_pairs_variants_by_seed():
    rows = pd.DataFrame([
        {"variant": "arcnn", "seed": 0, "A_asb": 10.0},
        {"variant": "arcnn", "seed": 1, "A_asb": 12.0},
        {"variant": "baseline", "seed": 0, "A_asb": 9.0},
        {"variant": "baseline", "seed": 1, "A_asb": 12.5},
    ]).reindex(columns=["variant", "seed", *ablation.UNIT_COLUMNS.values()])
    s = ablation.summarise(rows)
    assert s["arcnn"]["A_asb"] == {"mean": 11.0, "sd": pytest.approx(2 ** 0.5)}
    assert s["baseline"]["A_asb_minus_arcnn"]["per_seed"] == [-1.0, 0.5]
    assert s["baseline"]["A_asb_minus_arcnn"]["mean"] == pytest.approx(-0.25)
    assert "X" not in s["arcnn"]        # all NaN: not summarised


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        ablation.main(["--data", str(tmp_path / "nowhere")])
    with pytest.raises(SystemExit, match="positive integer"):
        ablation.main(["--data", str(tmp_path), "--epochs", "0"])


def test_load_ablation_finds_the_report(tmp_path):
    from arcnn_lib.results.reference import load_ablation
    assert load_ablation(tmp_path) is None
    (tmp_path / "ablation.json").write_text(json.dumps({"rows": [], "summary": {}}))
    assert load_ablation(tmp_path) == {"rows": [], "summary": {}}


def test_an_interrupted_run_stops_with_its_name(phantom48, tmp_path):
    # a time budget that the first step already spends: the trainer stops, as on a signal,
    # at its first check (here after epoch 1 of 10: the male split is one batch an epoch)
    with pytest.raises(SystemExit, match="arcnn seed 0 was interrupted after 1 epochs"):
        ablation.main(["--data", str(phantom48), "--out", str(tmp_path / "out"),
                       "--work", str(tmp_path / "work"), "--seeds", "0", "--quiet",
                       "--cache-dir", str(tmp_path / "cache"), "--max-minutes", "1e-9"])
    assert not (tmp_path / "out" / "ablation.csv").exists()
