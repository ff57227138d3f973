# Two commands on a fresh machine: `make run` and `make test`. Both build .venv first.
# `make bench` adds the bench extra (matplotlib, py-spy) and runs bench/ (docs/performance.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
# Extra twistd options for `make run`, e.g. make run ARGS="--lucky 3"
ARGS ?=
# Options for `make bench`, e.g. make bench BENCH_ARGS="--scenarios held --rounds 1"
BENCH_ARGS ?=

.PHONY: run test bench clean docs-screenshots

$(STAMP): setup.py pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=23" "setuptools>=64" wheel
	# compat mode puts this checkout on sys.path, so twistd sees twisted/plugins/ here.
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]' --config-settings editable_mode=compat
	touch $@

run: $(STAMP)
	$(BIN)/twistd --nodaemon --pidfile= examtwist $(ARGS)

test: $(STAMP)
	$(BIN)/trial $(TRIAL_ARGS) tests

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,bench]' --config-settings editable_mode=compat
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# The README's pictures of the web lookup and the teacher's pages, as the browser tests take them.
docs-screenshots: $(STAMP)
	$(BIN)/trial tests.test_browser tests.test_teacher_browser
	mkdir -p docs
	for page in login student error; do cp _trial_temp/screenshots/$$page.png docs/web-$$page.png; done
	for page in sign-in tests test students student test-phone; do \
		cp _trial_temp/screenshots/teacher-$$page.png docs/teacher-$$page.png; done

clean:
	rm -rf $(VENV) _trial_temp *.egg-info build
