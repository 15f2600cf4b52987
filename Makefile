# The two README commands: `make regenerate` (the main job) and `make test`.
# Both create .venv on first use from the pinned requirements and reuse it afterwards.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.quantnotes-installed
PROFILE ?= quick
# JOBS: studies at once, each with cores/JOBS threads (the runner starts the longest first)
JOBS    ?= $(shell nproc 2>/dev/null || echo 1)

.PHONY: all venv regenerate docs test export clean bench

all: test

venv: $(STAMP)

$(STAMP): requirements.txt settings.ini setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Main job: every study at $(PROFILE) into reports/, then the docs site into _docs/.
# The docs are built even if a study failed (its last good report stays); the exit code reports the failure.
regenerate: venv
	@status=0; $(BIN)/quantnotes regenerate --profile $(PROFILE) --jobs $(JOBS) || status=$$?; \
	$(BIN)/quantnotes sweep --plan --save --seeds 1-20 --workers 64 --profile $(PROFILE) >/dev/null || status=$$?; \
	$(BIN)/quantnotes docs && exit $$status

docs: venv
	$(BIN)/quantnotes docs

# Tests: notebook examples, package/notebook sync and cleanliness, then the integration tests.
test: venv
	@bash .ci/system-deps.sh
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers 2  # two notebooks at once: one thread each (see study_threads)
	$(BIN)/python .ci/check_sync.py
	$(BIN)/python -m pytest tests -q --durations=15

# Developer helpers: write the package from the notebooks and strip notebook outputs/metadata.
export: venv
	$(BIN)/nbdev_export
clean: venv
	$(BIN)/nbdev_clean
	$(BIN)/nbdev_clean --fname tests/fixtures/studies
	$(BIN)/nbdev_clean --fname tests/fixtures/sweep_studies
	$(BIN)/quantnotes docs --readme

bench: venv
	$(BIN)/python benchmarks/vol_surface_study.py
