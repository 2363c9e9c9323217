# The commands of the README.  Each sets up .venv from requirements.lock if needed.
VENV ?= .venv
export QDM_DATA_DIR ?= $(abspath ../shared/data)
PYTEST_ARGS ?= -n 2
# Sphinx warnings are errors; --keep-going reports all of them before failing.
BOOK_ARGS ?= -W --keep-going

.PHONY: env browser book test browser-test bench clean-book

env:
	@bash scripts/setup-env.sh

# Debian's chromium + chromium-driver for the browser tests (installed when missing).
browser:
	@bash scripts/setup-browser.sh

book: env
	@bash scripts/setup-mathjax.sh
	$(VENV)/bin/jupyter-book build . $(BOOK_ARGS)

test: env browser
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The browser test over every page of the built book (make book first).
browser-test: env browser
	QDM_BOOK_HTML=_build/html $(VENV)/bin/python -m pytest -q tests/test_browser.py

bench: env
	$(VENV)/bin/python benchmarks/bench_simulator.py --quick

clean-book:
	rm -rf _build .jupyter_cache
