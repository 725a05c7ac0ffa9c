# make demo: set up, then train a short row-wise ModifiedLSTMCell and test its hybrid at several T.
# make test: set up, then run the default test suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR := checkpoints/demo

.PHONY: setup demo test test-slow

$(STAMP): requirements.txt pyproject.toml fairseq_modified_files/requirements.txt fairseq_modified_files/patch_fairseq.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps fairseq==0.12.2
	$(PY) -m pip install -r fairseq_modified_files/requirements.txt
	$(PY) fairseq_modified_files/patch_fairseq.py
	$(PY) -m pip install --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(PY) run_seqmnist.py --mode train --checkpoint-dir $(DEMO_DIR) --end-epoch 2 --overwrite
	$(PY) run_seqmnist.py --mode test --checkpoint-dir $(DEMO_DIR) --test-subset 1000 --n-timestep 16 32 64 128 --overwrite

test: setup
	$(PY) -m pytest

test-slow: setup
	$(PY) -m pytest -m slow
