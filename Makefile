# scalpel-vs-hammer: every entry point. Paths are relative to this file, never to the cwd.
#   make reproduce [PRESET=tiny]   create .venv if missing, install, run every notebook with papermill
#   make test                      create .venv if missing, install, run the test suite, then re-execute
#                                  the committed smoke notebooks with nbval (in a fresh artifacts folder)
#   make test-fast                 the inner loop: every test not marked slow (pytest -m "not slow")
#   make paper [PRESET=tiny]       build the reproduction paper (paper/) from figures/$(PRESET)/numbers.json
#   make lab                       open JupyterLab on notebooks/ with the project's kernel
#   make lab-check                 JupyterLab (as make lab, in a temporary copy) in headless Chromium: opens
#                                  notebook 00, screenshot artifacts/lab-check.png, checks the page rendered it
#   make base [PRESET=tiny]        pretrain the miniature base again (it is cached otherwise)
#   make bench                     performance benchmarks (benchmarks/README.md): weights, KL, decoding,
#                                  end to end (empties artifacts/cache to time the analyses from scratch)
#   make gpu-check                 GPU readiness (benchmarks/gpu_check.py): train, KL, weights, decoding at
#                                  1B/7B shapes on CUDA; tiny shapes on a CPU (make test runs it so)

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
PRESET ?= tiny
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KERNEL := scalpel-vs-hammer
PYTHON ?= python3

.PHONY: install reproduce test test-fast nbval paper lab lab-check base bench gpu-check clean-venv
# nbval re-executes papermill_runs/smoke-w1/ then smoke/ (world draw 1 first: draw 0's notebook 08 combines
# both) here, from scratch, so it never touches your own artifacts
NBVAL_DIR := $(ROOT)/artifacts/nbval

$(STAMP): $(ROOT)/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e "$(ROOT)[dev]"
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (scalpel-vs-hammer)"
	touch $(STAMP)

install: $(STAMP)

reproduce: install
	cd $(ROOT) && $(VENV)/bin/scalpel reproduce --preset $(PRESET)

test: install
	cd $(ROOT) && HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) -m pytest
	$(MAKE) -f $(ROOT)/Makefile nbval

test-fast: install
	cd $(ROOT) && HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) -m pytest -m "not slow"

nbval: install
	rm -rf $(NBVAL_DIR)
	cd $(ROOT) && HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 SCALPEL_ARTIFACTS=$(NBVAL_DIR)/artifacts \
		SCALPEL_FIGURES=$(NBVAL_DIR)/figures $(PY) -m pytest --nbval-lax \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider papermill_runs/smoke-w1 papermill_runs/smoke

paper: install
	cd $(ROOT) && $(VENV)/bin/scalpel paper --preset $(PRESET)

lab: install
	$(PY) -c "import jupyterlab" 2>/dev/null || $(PY) -m pip install --quiet -e "$(ROOT)[dev,lab]"
	cd $(ROOT) && $(VENV)/bin/jupyter lab --notebook-dir=$(ROOT)/notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

# installs Debian's chromium when it is missing and this runs as root; else skips with one line
lab-check: install
	cd $(ROOT) && HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) tests/lab_check.py

base: install
	cd $(ROOT) && $(VENV)/bin/scalpel base --preset $(PRESET) --rebuild

bench: install
	cd $(ROOT) && $(PY) benchmarks/bench_weights.py $(BENCH_ARGS)
	cd $(ROOT) && $(PY) benchmarks/bench_kl.py $(BENCH_ARGS)
	cd $(ROOT) && $(PY) benchmarks/bench_generate.py --preset $(PRESET)
	cd $(ROOT) && $(PY) benchmarks/bench_e2e.py --preset $(PRESET) --clean analyses

gpu-check: install
	cd $(ROOT) && HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) benchmarks/gpu_check.py

clean-venv:
	rm -rf $(VENV)
