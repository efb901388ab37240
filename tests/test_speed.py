"""results.speed reads the train-step benchmark: ratios and verdicts worked by hand on a
made-up file, NaN and empty tables where a file is missing, and the committed files load."""
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from arcnn_lib.results import speed  # noqa: E402
from arcnn_lib.results.speed_figures import step_timeline, throughput_figure  # noqa: E402


def _variant(sps, ms, peak, **kw):
    return {"samples_per_s": sps, "ms_per_step": ms, "peak_memory_gib": peak, **kw}


@pytest.fixture
def files():
    main = {"device": "card", "profile": "paper", "batch_size": 32,
            "variants": {"a": _variant(400.0, 80.0, 10.0, precision="bf16",
                                       channels_last=True),
                         "b": _variant(200.0, 160.0, 20.0, precision="fp32",
                                       tf32_convolutions=True),
                         "c": _variant(500.0, 64.0, 10.0)},
            "ratios": {"a/b": 2.0, "a/c": 0.8},
            "targets": {"a/b": 2.2, "a/c": 0.75, "peak_memory_gib": 8.0,
                        "memory_batch": 16},
            "memory": {"peak_gib": 5.0}}
    comp = {"variants": {"a": _variant(410.0, 78.0, 10.0), "b": _variant(205.0, 156.0, 20.0),
                         "c": _variant(500.0, 64.0, 10.0),
                         "a_compiled": _variant(615.0, 52.0, 9.0)},
            "ratios": {"a/b": 2.0, "a/c": 0.82, "a_compiled/b": 3.0},
            "memory": {"peak_gib": None}}
    return main, comp


def test_lookup():
    d = {"x": {"y": 1, "z": None}}
    assert speed.lookup(d, "x", "y") == 1
    assert math.isnan(speed.lookup(d, "x", "z"))
    assert speed.lookup(None, "x", default="-") == "-"


def test_step_summary_by_hand(files):
    s = speed.step_summary(*files)
    assert s["ratio_ab"] == pytest.approx(2.0) and s["ratio_ac"] == pytest.approx(0.8)
    assert s["ratio_ab2"] == pytest.approx(2.0) and s["ratio_ac2"] == pytest.approx(0.82)
    assert s["ratio_acomp_b"] == pytest.approx(3.0)
    assert s["ratio_acomp_a"] == pytest.approx(1.5)
    assert s["ms_saved"] == pytest.approx(80.0)
    assert s["ms_beyond_floor"] == pytest.approx(16.0)
    assert s["share_beyond_floor"] == pytest.approx(0.2)
    assert s["peak_ratio"] == pytest.approx(0.5)


def test_missing_files_give_nan_and_empty_tables():
    s = speed.step_summary(None, None)
    assert all(math.isnan(v) for v in s.values())
    assert speed.variant_table(None, None).empty
    assert speed.target_checks(None, None).empty


def test_target_checks_recompute_verdicts(files):
    checks = speed.target_checks(*files)
    assert checks.loc["a/b", "main run: target"] == "missed"
    assert checks.loc["a/c", "main run: target"] == "met"
    assert checks.loc["a/c", "compile run: target"] == "met"
    mem = "peak GiB of (a), batch 16"
    assert checks.loc[mem, "main run: target"] == "met"
    assert checks.loc[mem, "compile run: target"] == "not measured"
    stricter = speed.target_checks(*files, targets={"a/b": 1.5, "a_compiled/b": 3.5})
    assert list(stricter.index) == ["a/b", "a_compiled/b"]
    assert stricter.loc["a/b", "main run: target"] == "met"
    assert stricter.loc["a_compiled/b", "compile run: target"] == "missed"
    assert stricter.loc["a_compiled/b", "main run: target"] == "not measured"


def test_variant_table_is_narrow(files):
    table = speed.variant_table(*files)
    assert table.shape == (7, 6)          # (3 + 4) variants x 6 quantities
    assert table.loc[("compile run", speed.VARIANTS["a_compiled"]), "samples/s"] == "615"


def test_committed_benchmark_loads():
    main, comp = speed.load_step_benchmark()
    if main is None:
        pytest.skip("no benchmark stored in this checkout")
    s = speed.step_summary(main, comp)
    assert s["ratio_ab"] == pytest.approx(main["ratios"]["a/b"])
    assert speed.provenance(main)["card"] == main["device"]


def test_figures_draw(files):
    for fig in (step_timeline(), throughput_figure(*files, targets=files[0]["targets"]),
                throughput_figure(None, None)):
        assert fig.axes
        plt.close(fig)
