# crmlab — the two commands: `make report` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := data/demo
SEED ?= 7

.PHONY: setup report test test-fast sample demo national us benchmark benchmark-national benchmark-us clean lock \
	app browser screenshots

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.2"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (crmlab)" >/dev/null
	touch $(STAMP)

$(DEMO)/truth.json: | $(STAMP)
	$(BIN)/crmlab simulate --out $(DEMO) --scale demo --seed $(SEED)

demo: $(DEMO)/truth.json

sample: $(STAMP)
	$(BIN)/crmlab simulate --out data/sample --scale sample --seed $(SEED)

national: $(STAMP)
	$(BIN)/crmlab simulate --out data/national --scale national --seed $(SEED)

# About 1,000,000 doctors, by division, as partitioned parquet (memory: one division, 4.5 GB).
us: $(STAMP)
	$(BIN)/crmlab simulate --out data/us --scale us --seed $(SEED)

report: $(STAMP) $(DEMO)/truth.json
	$(BIN)/crmlab run all --data $(DEMO) --out reports

# The managers' dashboard (Voila) on the sample; DATA=dir or REPORTS=dir to choose, PORT=8866.
PORT ?= 8866
app: $(STAMP)
	$(BIN)/crmlab app $(if $(REPORTS),--reports $(REPORTS),$(if $(DATA),--data $(DATA),)) --port $(PORT)

# Headless Chromium and its driver from Debian, for the dashboard's browser test (as root).
browser:
	test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-dejavu-core >/dev/null; }

# Screenshots of the sample reports (docs/report-<analysis>.png), from the committed notebooks,
# in Debian's headless Chromium (make browser installs it; nothing is downloaded).
screenshots: $(STAMP) browser
	$(BIN)/python -m crmlab.reporting.screenshots --out docs

# Everything: tests (slow ones too), the notebooks against their outputs (nbval) and the
# docstring examples of crmlab/ (the notebooks' paired .py scripts are not modules: ignored).
test: $(STAMP)
	$(BIN)/python -m pytest tests notebooks --nbval --nbval-sanitize-with nbval-sanitize.cfg \
		--doctest-modules crmlab --ignore-glob="notebooks/*/*.py" -p no:cacheprovider

# The quick loop while editing: no papermill runs, no demo-scale worlds (under 2 minutes).
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests -m "not slow" -n 2 -p no:cacheprovider

benchmark: $(STAMP)
	$(BIN)/python benchmarks/features.py

# Churn panels (DuckDB) and scoring (local Dask cluster) on data/us, simulated if missing.
benchmark-us: $(STAMP)
	$(BIN)/python benchmarks/us_scale.py --data data/us

# The full refresh (every analysis) at national scale: wall time and peak memory of each.
NATIONAL ?= data/national
benchmark-national: $(STAMP)
	test -f $(NATIONAL)/truth.json || $(BIN)/crmlab simulate --out $(NATIONAL) --scale national --seed $(SEED)
	$(BIN)/python benchmarks/features.py --scales national --national-dir $(NATIONAL)
	$(BIN)/python benchmarks/refresh.py --data $(NATIONAL)

# Re-pin every dependency after a deliberate upgrade.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v -E "^(pip|setuptools|wheel)==" > constraints.txt

clean:
	rm -rf $(VENV) reports build
