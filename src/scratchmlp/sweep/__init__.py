"""Hyperparameter sweeps with Optuna (imported here only, when a sweep runs).

`study.work` runs trials on one study; `study.run_workers` starts several local workers;
`export.export` writes trials.csv, best.json and the plots; `space` says what may vary.
"""
