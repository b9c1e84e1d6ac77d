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
	$(PY) -m pip install -q -e '.[edge,train,dev]'
	rm -f $(VENV)/.installed-* && touch $@

# `make demo DEMO_ARGS=--web`: the service with its kiosk page (prints the URL to open).
DEMO_ARGS ?=
demo: $(STAMP)
	$(VENV)/bin/sigpad demo $(DEMO_ARGS)

# A hub (nats-server: apt-get install nats-server) and two kiosks on this machine (docs/fleet.md);
# needs the fleet extra: $(PY) -m pip install 'nats-py>=2.16'.
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

# The shipped encoders (docs/training.md): fixed seed; the 5 cross-validation
# folds that choose each threshold are cached (~/.cache/sigpad/cv, or CACHE=DIR)
# and shared with bench. Caches made when they lived in the checkout's runs/
# are read there with `make model CACHE=runs`.
# Synthetic pretraining helps the pressure model; on Task1 the pressure-free
# model does better without it (docs/training.md).
# The pressure model: three towers (seeds 0-2), each pretrained on synthetic
# writers and fine-tuned, distilled into one (bench.bench_accuracy's
# "distilled" method is the same recipe).
MODEL_SYNTH ?= --synthetic 2000
MODEL_DISTILL ?= --towers 3 --distill-epochs 16 --label-weight 5 --score centroid-max-cosine
# Chosen between recipes on the 5 folds by the rule in docs/training.md (and
# labelled there): session-change augmentation for the pressure model,
# variants of the training writers (sigma-lognormal fits) for the other.
MODEL_PRESSURE ?= --session-augment 1.0
MODEL_NOPRESSURE ?= --variants 5
# Both models ship the fused decision (the cosine and the device's DTW,
# trainer/fusion.py): weight, constants and threshold from the 5 folds.
model: $(STAMP)
	$(PY) -m trainer.cli fit --data $(DATA)/Task2 --users 1-30 --seed 0 --loss contrastive \
		$(MODEL_SYNTH) $(MODEL_DISTILL) $(MODEL_PRESSURE) --cv-threshold --fuse --quiet --out edge/models/pressure \
		--keras runs/shipped/pressure.keras $(if $(CACHE),--cache $(CACHE))
	$(PY) -m trainer.cli fit --no-pressure --data $(DATA)/Task1 --data $(DATA)/Task2 --users 1-30 \
		--seed 0 --loss contrastive $(MODEL_NOPRESSURE) --cv-threshold --fuse --quiet --out edge/models/no_pressure \
		--keras runs/shipped/no_pressure.keras $(if $(CACHE),--cache $(CACHE))

evaluate: $(STAMP)
	$(VENV)/bin/sigpad-train evaluate --method dtw --data $(DATA)/Task2

# The Raspberry Pi bundle (dist/sigpad-bundle-VERSION and its .tar.gz); see docs/deploy.md.
bundle: $(STAMP)
	$(VENV)/bin/sigpad-train bundle

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
