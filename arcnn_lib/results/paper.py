"""The paper's numbers: its Tables 1-3 as printed (Liu et al., MICCAI 2019).

MAE in months on the RSNA 200-image test set, with a 448 px input and an ImageNet-pretrained
ResNet-50. ``tests/test_paper_numbers.py`` checks them against the paper's text. The book
quotes them wherever it compares with the paper (:func:`arcnn_lib.results.tables.paper_tables`).
"""
from __future__ import annotations

#: The paper's Table 1: test MAE (months) of the boys' model for K = 1..4 parts
#: (Liu et al. 2019; 448 px, ImageNet-pretrained ResNet-50, the RSNA 200-image test set).
PAPER_TABLE1 = {1: 5.87, 2: 5.45, 3: 4.32, 4: 7.43}
#: The paper's Table 2: test MAE (months) of each unit of the K = 3 models, per sex.
PAPER_TABLE2 = {
    "male": {"X": 5.76, "C": 4.99, "R1": 5.55, "R2": 5.59, "R3": 6.03, "A_asb": 4.32},
    "female": {"X": 6.20, "C": 5.46, "R1": 6.58, "R2": 6.31, "R3": 7.04, "A_asb": 4.44},
}
#: The paper's Table 3: (method, stage, trained on RSNA, MAE in months); the other methods'
#: values are as the paper quotes them from their own papers.
PAPER_TABLE3 = (
    ("Human (as reported by Larson et al.)", "-", True, 7.32),
    ("Spampinato et al.", "single-stage", False, 9.12),
    ("Larson et al.", "single-stage", True, 6.24),
    ("Iglovikov et al.", "multi-stage", True, 4.97),
    ("Ren et al.", "multi-stage", True, 5.20),
    ("AR-CNN", "single-stage", True, 4.38),
)
#: The paper's headline MAE in months (its Tables 2 and 3): per sex and overall.
PAPER_MAE = {"male": PAPER_TABLE2["male"]["A_asb"], "female": PAPER_TABLE2["female"]["A_asb"],
             "all": PAPER_TABLE3[-1][3]}
