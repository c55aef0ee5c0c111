"""Comparison with upstream gmm-mi 0.8.2 (GPL-3, non-commercial clause).

Upstream runs only as an external program in its own venv (.venv-upstream, built by
make_venv.sh); no upstream code is imported into, or copied into, fastmi.

cases.py          data generators (numpy only; also imported by the runner inside the venv)
harness.py        fastmi-side driver: builds the venv, runs the runner in a subprocess
run_upstream.py   runs upstream's EstimateMI on one data set, writes JSON (inside the venv)
make_venv.sh      idempotent venv builder; requirements-upstream.txt holds the pins
"""
