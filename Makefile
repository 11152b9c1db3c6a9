# Handoff: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo serve test lint format venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

## Set up, then run a whole seeded delivery day end to end on the embedded default (SQLite and an
## embedded Redis), print the summary and write the HTML report (docs/DEMO.md). DEMO_ARGS="--orders 500".
demo: venv
	$(BIN)/python -m demo $(DEMO_ARGS)

## The gateway, RQ workers, scheduler and carrier simulator, left up for exploration; prints the docs URL.
serve: venv
	$(BIN)/python -m gateway.serve

## Set up and run the whole test suite (real PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set).
test: venv
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var .pytest_cache .ruff_cache .hypothesis
