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

# An editable install in setuptools' default mode (its "compat" mode is deprecated) gives the
# commands, the metadata and the dependencies. Development then runs from this checkout, as
# compat mode did: a .pth file puts the checkout on the venv's sys.path, so twistd finds
# twisted/plugins/ here (its plugins are looked up in twisted/plugins/ folders on sys.path,
# where `pip install .` puts ours in site-packages) and trial finds tests/.
SITE_PACKAGES = $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
CHECKOUT_ON_PATH = echo $(CURDIR) > "$(SITE_PACKAGES)/examtwist-checkout.pth"
# setuptools says "Editable installation." on every editable install: a notice (its
# InformationOnly), not a deprecation, that folders named like the package in the working
# directory come first on import; here they are the very same files. Only that notice is hidden.
QUIET_NOTICE = PYTHONWARNINGS="ignore:Editable installation"

$(STAMP): setup.py pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=23" "setuptools>=64" wheel
	$(QUIET_NOTICE) $(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	$(CHECKOUT_ON_PATH)
	touch $@

run: $(STAMP)
	$(BIN)/twistd --nodaemon --pidfile= examtwist $(ARGS)

test: $(STAMP)
	$(BIN)/trial $(TRIAL_ARGS) tests

$(BENCH_STAMP): $(STAMP)
	$(QUIET_NOTICE) $(BIN)/pip install --quiet -c constraints.txt -e '.[test,bench]'
	$(CHECKOUT_ON_PATH)
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# The README's pictures of the web lookup, the teacher's pages and the GUI's countdown, as their
# tests take them.
docs-screenshots: $(STAMP)
	$(BIN)/trial tests.test_browser tests.test_teacher_browser
	mkdir -p docs
	for page in login student error; do cp _trial_temp/screenshots/$$page.png docs/web-$$page.png; done
	for page in sign-in tests test students student test-phone; do \
		cp _trial_temp/screenshots/teacher-$$page.png docs/teacher-$$page.png; done
	$(BIN)/trial tests.test_gui_exams
	cp _trial_temp/screenshots/gui-countdown.png docs/gui-countdown.png

clean:
	rm -rf $(VENV) _trial_temp *.egg-info build
