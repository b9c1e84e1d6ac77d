# Two commands from a fresh clone: `make demo` and `make test`. Each builds .venv itself.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
DATA   ?= $(abspath ../shared/data/svc2004)

.PHONY: demo fleet-demo test test-fast lint bench model evaluate venv clean bundle

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[edge,train,dev,fleet]'
	rm -f $(VENV)/.installed-* && touch $@

# `make demo DEMO_ARGS=--web`: the service with its kiosk page (prints the URL to open).
DEMO_ARGS ?=
demo: $(STAMP)
	$(VENV)/bin/sigpad demo $(DEMO_ARGS)

# A hub (nats-server: apt-get install nats-server) and two kiosks on this machine (docs/fleet.md);
# the fleet extra (nats-py) is in .venv.
fleet-demo: $(STAMP)
	$(VENV)/bin/sigpad fleet demo

test: $(STAMP)
	$(PY) -m pytest -q

# The suite less Chromium, training and the emulated Pi (marked slow): a quick check while working.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# Style and types, configured once in pyproject.toml ([tool.ruff], [tool.mypy]).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Every benchmark (~2 h: bench_accuracy retrains); keeps their JSON in runs/bench and
# writes docs/results.md from it. `--only NAME...` reruns some, e.g. the quick ones:
# $(PY) -m bench.run_all --data $(DATA) --only bench_decode bench_edge bench_dtw
bench: $(STAMP)
	$(PY) -m bench.run_all --data $(DATA)

# The shipped encoders (docs/training.md), one per pad kind: the recipes are named
# here and spelled once, in trainer/recipe.py (SHIPPED_PRESSURE, SHIPPED_NO_PRESSURE,
# chosen between recipes on the 5 folds by the rule in docs/training.md). Each ships
# the fused decision (the cosine and the device's DTW, trainer/fusion.py): weight,
# constants and threshold from the 5 cross-validation folds, which are cached
# (~/.cache/sigpad/cv, or CACHE=DIR) and shared with bench. Caches made when they
# lived in the checkout's runs/ are read there with `make model CACHE=runs`.
model: $(STAMP)
	$(PY) -m trainer.cli fit --recipe shipped-pressure --data $(DATA) --out edge/models/pressure \
		--keras runs/shipped/pressure.keras $(if $(CACHE),--cache $(CACHE))
	$(PY) -m trainer.cli fit --recipe shipped-no-pressure --data $(DATA) --out edge/models/no_pressure \
		--keras runs/shipped/no_pressure.keras $(if $(CACHE),--cache $(CACHE))

evaluate: $(STAMP)
	$(VENV)/bin/sigpad-train evaluate --method dtw --data $(DATA)/Task2

# The Raspberry Pi bundle (dist/sigpad-bundle-VERSION and its .tar.gz); see docs/deploy.md.
bundle: $(STAMP)
	$(VENV)/bin/sigpad-train bundle

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
