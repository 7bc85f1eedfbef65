# Every target does its own set-up: the first run creates .venv and installs the package.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED_MNIST := $(abspath ../shared/datasets/mnist)
ifneq ($(wildcard $(SHARED_MNIST)/train-images-idx3-ubyte.gz),)
export TFKMEANS_DATA_DIR ?= $(SHARED_MNIST)
endif
# Quieter TensorFlow start-up in tests and scripts.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install test naive experiments bench clean

$(BIN)/.installed-%: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[$*]'
	touch $@

install: $(BIN)/.installed-test

test: $(BIN)/.installed-test
	$(BIN)/python -m pytest -q tests

naive: $(BIN)/.installed-test
	$(BIN)/python -m experiments.naive --k=10 --output_dir=runs/naive

# Every seed study (restarts, confusion, tsne, select_k, ...) at full size, then REPORT.md.
experiments: $(BIN)/.installed-experiments
	$(BIN)/python -m experiments.all

# Every benchmark; the figures and their commands are recorded in BENCHMARKS.md.
bench: $(BIN)/.installed-bench
	$(BIN)/python -m benchmarks.lloyd --markdown
	$(BIN)/python -m benchmarks.restarts --markdown
	$(BIN)/python -m benchmarks.restarts --markdown --n_init=1 --methods=tfkmeans,tfkmeans_lloyd,sklearn,sklearn_elkan
	$(BIN)/python -m benchmarks.seeding --markdown
	$(BIN)/python -m benchmarks.kernels --markdown
	$(BIN)/python -m benchmarks.minibatch
	$(BIN)/python -m benchmarks.out_of_core
	$(BIN)/python -m benchmarks.scaling
	$(BIN)/python -m benchmarks.mirrored --markdown

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
