# These notebooks are fixtures of tests/test_runner.py, not notebooks for nbval.
collect_ignore_glob = ["*.ipynb"]
