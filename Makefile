# Ozé: local stack, tests and packaging. Only Python 3.11 and make are needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
EMULATOR_PORT ?= 5000

.PHONY: run test test-fast typecheck token finalise lint bench clean package deploy browser

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	# chalice 1.34 requires pip<26.3
	$(BIN)/python -m pip install --quiet 'pip<26.3'
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

## make run: emulated AWS + resources from infra/ + demo data + API on http://127.0.0.1:$(PORT)
run: $(STAMP)
	$(BIN)/python -m devtools.local_stack --port $(PORT) --emulator-port $(EMULATOR_PORT)

## make test: the whole suite, every tier (CI runs this), after the type check
test: $(STAMP) browser typecheck
	$(BIN)/python -m pytest

# The fast tiers (README, Tests): tests/unit, tests/storage and tests/api, on both cores.
# None of them uses the plugins that only tests/system/test_fuzz.py needs.
FAST_TIERS := tests/unit tests/storage tests/api
FAST_OPTIONS := -n 2 -p no:schemathesis -p no:hypothesispytest -p no:anyio

## make test-fast: the unit, storage and API tiers (a minute at most)
test-fast: $(STAMP)
	$(BIN)/python -m pytest $(FAST_OPTIONS) $(FAST_TIERS)

## make typecheck: mypy over what [tool.mypy] in pyproject.toml names
typecheck: $(STAMP)
	$(BIN)/mypy

# Headless Chromium for tests/system/test_cors_browser.py: Debian's package, installed once (as
# root, like CI). If it cannot be installed, that test says so and is skipped.
browser:
	@test -x /usr/bin/chromium || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
		|| echo "make browser: chromium could not be installed; tests/system/test_cors_browser.py will skip its browser tests"

## make token SUB=… [NAME=…] [EMAIL=…] [GROUPS=moderators]: a bearer token for the local stage
token: $(STAMP)
	@$(BIN)/python -m devtools.token --sub "$(SUB)" --name "$(NAME)" --email "$(EMAIL)" --groups "$(GROUPS)"

## make finalise [NOW=2026-12-31T23:00:00Z]: deadline closure and settlement on the local stack
finalise: $(STAMP)
	$(BIN)/python -m devtools.finalise --now "$(NOW)"

lint: $(STAMP) typecheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## make package STAGE=dev|staging|prod: CloudFormation template + Lambda zip in dist/$(STAGE)/
package: $(STAMP)
	$(BIN)/python -m devtools.package package --stage "$(STAGE)"

## make deploy STAGE=… ARTIFACTS_BUCKET=… [PARAMS='SenderEmail=… AlarmEmail=… WebOrigins=…']
## (needs the AWS CLI v2 and credentials; README, Operations)
deploy: package
	$(BIN)/python -m devtools.package deploy --stage "$(STAGE)" --artifacts-bucket "$(ARTIFACTS_BUCKET)" \
		--parameter-overrides $(PARAMS)

## make bench: performance figures reported in the README (run by hand)
bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) dist .pytest_cache
