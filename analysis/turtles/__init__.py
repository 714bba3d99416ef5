"""The research instrument around build/turtles: experiment files
(experiment.py), the runner (runner.py, slurm.py, merge.py), and reports
that read the results database only (tables/, figures/, report_md.py).
docs/experiments.md describes it for users."""
