# groundseg: the two commands of the README, and a few more.
#   make test   set everything up, then run the test suite
#   make demo   set everything up, then run the station's main job on its embedded default
#   make bench  set everything up, then run the benchmarks (figures, plots, comparisons)
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup test demo bench clean

setup:
	@deploy/bootstrap.sh --dev --venv $(abspath $(VENV))

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/groundseg demo

bench: setup
	$(PY) tests/benchmarks/run.py

clean:
	rm -rf build .build
	find groundseg -name '*.so' -delete
	find groundseg -name '*.c' -path '*/dsp/*' -delete
