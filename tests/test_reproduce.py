"""The reference-reproduction command on a tiny phantom (arcnn_lib.results.reproduce)."""
from types import SimpleNamespace
import json

import pytest

from arcnn_lib.results import reproduce
from arcnn_lib.results.reference import load_reference

from engine_fixtures import phantom48  # noqa: F401


def test_two_runs_write_only_portable_small_results(phantom48, tmp_path, monkeypatch):
    monkeypatch.setenv("ARCNN_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    reproduce.main(["--data", str(phantom48), "--data-name", "phantom48", "--out", str(out),
                    "--work", str(tmp_path / "work"), "--profile", "smoke", "--epochs", "1",
                    "--only", "arcnn_male_k3,baseline_male", "--git-commit", "abc123",
                    "--quiet"])
    names = {p.name for p in out.iterdir()}
    for run in ("arcnn_male_k3", "baseline_male"):
        assert {f"{run}.json", f"{run}_predictions.csv", f"{run}_history.csv"} <= names
    assert {"manifest.json", "tables.json", "phantom48_split.csv"} <= names
    assert not any(n.endswith(".pt") for n in names)          # checkpoints stay in --work
    for path in out.glob("*.json"):
        text = path.read_text()
        assert str(tmp_path) not in text, f"{path.name} holds a path of this machine"
    metrics = json.loads((out / "arcnn_male_k3.json").read_text())
    assert metrics["git_commit"] == "abc123" and metrics["train"]["epochs"] == 1
    assert len(metrics["mae_parts"]) == 6 and metrics["n"] > 0
    tables = json.loads((out / "tables.json").read_text())
    assert tables["table1_male_k"][0]["K"] == 3
    assert set(tables["table3_mae"]["baseline"]) == {"male"}
    ref = load_reference(out)
    assert ref.names == ["arcnn_male_k3", "baseline_male"]
    assert list(ref.runs["mae"].round(6)) == [round(metrics["mae"], 6),
                                             round(ref.metrics("baseline_male")["mae"], 6)]
    assert (out / "fig3_parts.png").stat().st_size > 1000
    md = (out / "tables.md").read_text()
    assert f"{tables['table3_mae']['arcnn']['male']:.2f}" in md and "4.32" in md
    assert "commit `abc123`" in md and str(tmp_path) not in md


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        reproduce.main(["--data", str(tmp_path / "nowhere")])
    with pytest.raises(SystemExit, match="--budget-minutes"):
        reproduce.main(["--data", str(tmp_path)])
    with pytest.raises(SystemExit, match="unknown runs"):
        reproduce.main(["--data", str(tmp_path), "--epochs", "1", "--only", "arcnn_k9"])
    with pytest.raises(SystemExit, match="positive integer"):
        reproduce.main(["--data", str(tmp_path), "--epochs", "0"])


def test_budget_skips_what_does_not_fit(tmp_path, monkeypatch):
    import time

    def fake_run(args, run, epochs, out, data_name):
        time.sleep(0.5)
        return {"mae": 1.0}

    monkeypatch.setattr(reproduce, "run_one", fake_run)
    out = tmp_path / "out"
    # 0.6 s of budget: the first run (0.5 s) fits; every later one is predicted not to
    reproduce.main(["--data", str(tmp_path), "--out", str(out), "--epochs", "1",
                    "--budget-minutes", "0.01", "--quiet"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["name"] for r in manifest["runs"]] == ["arcnn_male_k3"]
    assert [s["name"] for s in manifest["skipped"]] == [r.name for r in reproduce.RUNS[1:]]


def test_an_interrupted_run_is_not_written(tmp_path, monkeypatch):
    import arcnn_lib.engine.trainer as T
    monkeypatch.setattr(T, "train", lambda cfg: SimpleNamespace(interrupted=True, epochs_done=1))
    with pytest.raises(SystemExit, match="arcnn_male_k3 was interrupted after 1 epochs"):
        reproduce.main(["--data", str(tmp_path), "--out", str(tmp_path / "out"),
                        "--work", str(tmp_path / "work"), "--epochs", "3",
                        "--only", "arcnn_male_k3", "--quiet"])
    assert not (tmp_path / "out" / "arcnn_male_k3.json").exists()
