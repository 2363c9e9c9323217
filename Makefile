# The two commands of the README.  Each sets up .venv from requirements.lock if needed.
VENV ?= .venv
export QDM_DATA_DIR ?= $(abspath ../shared/data)
PYTEST_ARGS ?= -n 2

.PHONY: env book test bench clean-book

env:
	@bash scripts/setup-env.sh

book: env
	@bash scripts/setup-mathjax.sh
	$(VENV)/bin/jupyter-book build .

test: env
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench: env
	$(VENV)/bin/python benchmarks/bench_simulator.py --quick

clean-book:
	rm -rf _build .jupyter_cache
