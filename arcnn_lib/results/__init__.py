"""The results tooling: reproducing Tables 1-3 and Fig. 3 (:mod:`.reproduce`), seeded
ablations (:mod:`.ablation`), the phantom study (:mod:`.phantom_study`, with
:mod:`.study_stats`, :mod:`.study_report`, :mod:`.study_figures`, :mod:`.study_cost`,
:mod:`.study_grid`),
tables beside the paper (:mod:`.tables`, :mod:`.paper`), the committed reference runs
(:mod:`.reference`, :mod:`.expert_regions`, :mod:`.fitted_assembly`), runs in a time budget
(:mod:`.run_queue`), what the chapters show of them
(:mod:`.chapter_tables`, :mod:`.chapter_figures`, :mod:`.first_runs`, :mod:`.speed`), and
figures (:mod:`.figures`, :mod:`.roi_figures`, :mod:`.attribution_figures`,
:mod:`.speed_figures`, built on :mod:`.viz`)."""
