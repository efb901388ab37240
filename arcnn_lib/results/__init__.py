"""The results tooling: reproducing Tables 1-3 and Fig. 3 (:mod:`.reproduce`), seeded
ablations (:mod:`.ablation`), tables beside the paper (:mod:`.tables`), the committed
reference runs (:mod:`.reference`), and figures (:mod:`.figures` built on :mod:`.viz`)."""
