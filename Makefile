# slipway: two commands on a fresh machine.
#   make release   the guarded release through Ansible against the embedded default (SQLite)
#   make test      installs and starts what the tests need, lints, runs the suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
GCL    := node_modules/.bin/gitlab-ci-local

.PHONY: setup release bundle test lint services clean bench

# slipway with every extra, and the sample service (a distribution of its own), at the
# versions pinned in constraints.txt.
$(STAMP): pyproject.toml examples/storefront/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -c constraints.txt -e '.[postgresql,mysql,async,deploy,image,dev]' \
	  -e examples/storefront
	touch $(STAMP)

setup: $(STAMP)

# gitlab-ci-local (pinned in package-lock.json) runs .gitlab-ci.yml in the pipeline tests.
$(GCL): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(GCL)

release: setup
	mkdir -p var
	$(BIN)/ansible-playbook playbooks/migrate.yml -i inventories/local \
	  -e slipway_db_source_venv=$(abspath $(VENV))

bundle: setup
	VENV=$(VENV) scripts/build-bundle.sh

services: setup
	scripts/ci-services.sh
	$(BIN)/python -c 'import MySQLdb' 2>/dev/null \
	  || $(BIN)/pip install --quiet -c constraints.txt mysqlclient

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/yamllint --strict .
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/ansible-lint -q --profile production

# Lint runs beside the suite (the suite mostly waits on SSH, servers and sleeps); its
# output follows the suite's, and either failing fails the target.
test: setup services $(GCL)
	@$(MAKE) --no-print-directory lint > .lint.log 2>&1 & lint=$$!; \
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=20 $(PYTEST_ARGS); \
	tests=$$?; wait $$lint; linted=$$?; cat .lint.log; rm -f .lint.log; \
	if [ $$linted -ne 0 ]; then echo "make test: lint failed" >&2; exit $$linted; fi; \
	exit $$tests

# Benchmarks: JSON and a Markdown table (and PNG plots where matplotlib is installed).
bench: setup
	$(BIN)/pip install --quiet -c constraints.txt matplotlib
	$(BIN)/python bench/release_scaling.py --out bench/results
	$(BIN)/python bench/adopted_history.py --out bench/results
	$(BIN)/python bench/status_speed.py --out bench/results
	$(BIN)/python bench/backup_cost.py --out bench/results
	$(BIN)/python bench/backup_methods.py --out bench/results
	$(BIN)/python bench/restore_memory.py --out bench/results
	$(BIN)/python bench/lock_latency.py --out bench/results
	$(BIN)/python bench/rolling_deploy.py --out bench/results

clean:
	rm -rf $(VENV) var artifacts dist release reports node_modules .gitlab-ci-local \
	  .pytest_cache .mypy_cache .ruff_cache
