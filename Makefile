# Handoff: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

# Ports: `make serve PORT=8010 SIMULATOR_PORT=8110` (or GATEWAY_PORT/SIMULATOR_PORT in the environment).
PORT           ?= $(GATEWAY_PORT)
PORT_ARGS      := $(if $(PORT),--port $(PORT)) $(if $(SIMULATOR_PORT),--simulator-port $(SIMULATOR_PORT))

.PHONY: demo serve test test-fast lint wheel-check format venv clean

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
	$(BIN)/python -m demo $(PORT_ARGS) $(DEMO_ARGS)

## The gateway, RQ workers, scheduler and carrier simulator, left up for exploration; prints the docs URL.
## Restarts a worker or the scheduler that dies. SERVE_ARGS="--workers 2 --logs var/logs".
serve: venv
	$(BIN)/python -m gateway.serve $(PORT_ARGS) $(SERVE_ARGS)

## Set up and run the whole test suite (real PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set).
test: venv
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## The fast loop: unit, contract and in-process integration tests (no e2e, no fuzz, no browser),
## on both cores, with every network address but loopback blocked. About 1.5 minutes on 2 cores.
test-fast: venv
	$(BIN)/python -m pytest -m "not e2e and not slow and not fuzz" -n 2 -p no:cacheprovider \
	  --allow-hosts=127.0.0.0/8,::1 --allow-unix-socket $(PYTEST_ARGS)

## The rules of the house: ruff, the formatter, the import contracts and the type checker.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

## Build the wheel, install it into a fresh venv away from the checkout, migrate and run --check there.
wheel-check: venv
	PYTHON=$(BIN)/python bash .ci/wheel-check

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf var .pytest_cache .ruff_cache .hypothesis
