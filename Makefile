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
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q tests

naive: $(BIN)/.installed-test
	$(BIN)/python -m experiments.naive --k=10 --output_dir=runs/naive

# Every seed study (restarts, confusion, tsne, select_k, ...) at full size, then REPORT.md.
experiments: $(BIN)/.installed-experiments
	$(BIN)/python -m experiments.all

# Every benchmark at one commit: each script writes its table (and its target rows) into BENCHMARKS.md.
# BENCH_ALGORITHMS names the tfkmeans algorithms timed at k=1,000 on MNIST, BENCH_LARGE_ALGORITHMS those
# at 600,000 x 1,000 (Elkan's n x k bounds alone would be 2.4 GB there); BENCH_FLAGS is appended to every
# command (e.g. BENCH_FLAGS="--quick --bench_file=COPY.md", COPY.md a copy of BENCHMARKS.md, for a smoke run).
BENCH_ALGORITHMS ?= auto,lloyd,elkan
BENCH_LARGE_ALGORITHMS ?= auto
BENCH_FLAGS ?=
BENCH_COMMIT := $(shell git rev-parse HEAD 2>/dev/null)
BENCH := $(BIN)/python -m benchmarks
bench: $(BIN)/.installed-bench
	@git diff --quiet HEAD -- tfkmeans benchmarks || { echo "make bench measures one commit: commit the changes to tfkmeans/ and benchmarks/ first"; exit 1; }
	$(BENCH).lloyd --section=lloyd_k1000 --k=1000 --iters=50 --repeats=3 --algorithms=$(BENCH_ALGORITHMS) --peers=sklearn,faiss --single_passes=false --targets=k1000_50 $(BENCH_FLAGS)
	$(BENCH).restarts --targets=restarts $(BENCH_FLAGS)
	$(BENCH).restarts --section=restarts_k100 --k=100 --n_init=1 --peers=sklearn,sklearn_elkan --targets=k100_convergence $(BENCH_FLAGS)
	$(BENCH).lloyd --targets=k10_per_iter $(BENCH_FLAGS)
	$(BENCH).lloyd --section=lloyd_fixed_cost --iters=5 --repeats=9 --algorithms=auto,lloyd --peers=sklearn --single_passes=false --targets=fixed_cost $(BENCH_FLAGS)
	$(BENCH).out_of_core --targets=streamed_pass,streamed_memory $(BENCH_FLAGS)
	$(BENCH).lloyd --section=lloyd_large --n_samples=600000 --k=1000 --iters=30 --repeats=1 --algorithms=$(BENCH_LARGE_ALGORITHMS) --peers=faiss --single_passes=false --targets=large_per_iter $(BENCH_FLAGS)
	$(BENCH).seeding --targets=seeding_k1000 $(BENCH_FLAGS)
	$(BENCH).minibatch --targets=minibatch_quality $(BENCH_FLAGS)
	$(BENCH).mirrored $(BENCH_FLAGS)
	$(BENCH).kernels $(BENCH_FLAGS)
	$(BENCH).profile $(BENCH_FLAGS)
	$(BENCH).scaling --figure=docs/images/scaling.png $(BENCH_FLAGS)
	@test "$$(git rev-parse HEAD)" = "$(BENCH_COMMIT)" || { echo "HEAD moved during make bench: the tables mix commits"; exit 1; }

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
