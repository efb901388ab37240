"""The paper's numbers in the library are the ones the paper prints (its text sits beside the
checkout, in ``shared/paper/README.md``)."""
import re

import pytest

from arcnn_lib.data.paths import REPO_ROOT
from arcnn_lib.results.paper import PAPER_TABLE1, PAPER_TABLE2, PAPER_TABLE3

PAPER_README = REPO_ROOT.parent / "shared" / "paper" / "README.md"


def _rows(text: str, first_cell: str):
    """The cells of the markdown table rows whose first cell is ``first_cell``."""
    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == first_cell:
            out.append(cells[1:])
    return out


@pytest.mark.skipif(not PAPER_README.is_file(), reason="the paper's text is not beside the checkout")
def test_paper_tables_match_the_paper():
    text = PAPER_README.read_text()
    (t1,) = _rows(text, "MAE")
    assert [PAPER_TABLE1[k] for k in (1, 2, 3, 4)] == [float(v) for v in t1]
    for sex in ("male", "female"):
        (row,) = _rows(text, sex)
        assert list(PAPER_TABLE2[sex].values()) == [float(v) for v in row]
    for method, stage, on_rsna, mae in PAPER_TABLE3:
        (row,) = _rows(text, method)
        assert float(row[-1]) == mae and (row[1] == "yes") == on_rsna
        assert re.sub("[—-]", "-", row[0]) == stage


def test_paper_tables_as_frames_hold_every_value():
    from arcnn_lib.results.tables import paper_tables
    t = paper_tables()
    assert t["table1"]["MAE, boys"].tolist() == [f"{v:.2f}" for v in PAPER_TABLE1.values()]
    for sex, units in PAPER_TABLE2.items():
        assert t["table2"][sex].to_dict() == {u: f"{v:.2f}" for u, v in units.items()}
    assert list(t["table3"]["MAE"]) == [f"{row[3]:.2f}" for row in PAPER_TABLE3]
    assert list(t["table3"].index) == [row[0] for row in PAPER_TABLE3]
    assert set(t["table3"]["trained on RSNA"]) == {"yes", "no"}
