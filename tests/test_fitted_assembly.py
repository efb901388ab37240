"""Re-assembling a trained AR-CNN with validation-fitted weights (python -m arcnn_lib fit-assembly)."""
import json

import pytest

from arcnn_lib import TrainConfig, train
from arcnn_lib.results import fitted_assembly



def test_fitted_assembly_reports_eq1_beside_the_fitted_weights(phantom48, tmp_path):
    cfg = TrainConfig.for_profile("smoke", data=str(phantom48), out=str(tmp_path / "run"),
                                  sex="all", epochs=1, batch_size=8, progress=False,
                                  cache_dir=str(tmp_path / "cache"),
                                  split_fractions=(0.5, 0.25, 0.25))
    res = train(cfg)
    out = tmp_path / "fitted.json"
    assert fitted_assembly.main(["--checkpoint", str(res.checkpoint), "--out", str(out),
                                 "--cache-dir", str(tmp_path / "cache")]) == 0
    row = json.loads(out.read_text())["rows"][0]
    k = row["num_concat"]
    assert row["run"] == "run" and len(row["weights"]) == k + 2 == len(row["units"])
    assert min(row["weights"]) >= 0 and sum(row["weights"]) == pytest.approx(1.0)
    # fitted on validation, so on validation it can only match or beat the equal weights
    assert row["val_mae_fitted"] <= row["val_mae_eq1"] + 1e-9
    # Eq. 1 recomputed from the units is the model's own assembled estimate
    from arcnn_lib import evaluate
    ev = evaluate(res.checkpoint, split="test", cache_dir=str(tmp_path / "cache"),
                  progress=False)
    assert row["test_mae_eq1"] == pytest.approx(ev.metrics["mae"], rel=1e-5)


def test_a_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(SystemExit, match="nowhere.pt"):
        fitted_assembly.main(["--checkpoint", str(tmp_path / "nowhere.pt"),
                              "--out", str(tmp_path / "f.json")])
