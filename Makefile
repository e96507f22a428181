# The two commands: `make run` (Foule locally) and `make test` (the whole suite).
# Each creates the virtualenv and installs what it needs first; nothing else is assumed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAGE ?= dev

LINT_VENV := .venv-lint
# For `make deploy`: an S3 bucket that receives the code package.
ARTIFACT_BUCKET ?=

.PHONY: run test demo venv lint-venv lint package policies deploy clean assets web-deps

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "pip<26.3"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile -r requirements-dev.txt
	touch $@

# cfn-lint lives in its own virtualenv: aws-sam-translator pins pydantic~=2.13, we use 2.14.
lint-venv: $(LINT_VENV)/.installed

$(LINT_VENV)/.installed: requirements-lint.txt
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-lint.txt
	touch $@

# The charting library the run reports inline (package.json pins it; the copy is not committed:
# tools/package.py puts it in the Lambda zip with the rest of chalicelib/).
REPORT_JS := chalicelib/templates/echarts.min.js
assets: $(REPORT_JS)

$(REPORT_JS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	cp node_modules/echarts/dist/echarts.common.min.js $@

run: venv assets
	$(BIN)/python -m tools.local_stack

# The web apps need no build; their browser tests inject axe-core, pinned in web/package-lock.json.
web-deps: web/node_modules/.package-lock.json

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

# ruff first (seconds; ruff.toml), then two workers, each with its own moto server: the long
# replay test runs beside the rest. tests/test_layering.py checks the import layers.
test: venv lint-venv assets web-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# With `make run` going in another terminal: replay a real dataset through the HTTP API.
DATASET ?= ../shared/datasets/rte
demo: venv
	$(BIN)/python -m tools.replay --dataset $(DATASET) --concurrency 8 --gold-fraction 0.1 --seed 1

lint: venv lint-venv
	$(BIN)/python -m tools.package policies --check
	$(LINT_VENV)/bin/cfn-lint infra/template.yaml

# Render .chalice/policy-*.json from infra/aws.yaml (never edit those files by hand).
policies: venv
	$(BIN)/python -m tools.package policies

# dist/sam.yaml + dist/deployment.zip for STAGE (dev by default).
package: venv assets
	$(BIN)/python -m tools.package --stage $(STAGE)

deploy: package
	@test -n "$(ARTIFACT_BUCKET)" || (echo "set ARTIFACT_BUCKET=<an S3 bucket for the code>" && exit 2)
	aws cloudformation package --template-file dist/sam.yaml --s3-bucket $(ARTIFACT_BUCKET) --output-template-file dist/packaged.yaml
	aws cloudformation deploy --template-file dist/packaged.yaml --stack-name foule-$(STAGE) \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --parameter-overrides Stage=$(STAGE)
# The worker app: web/worker/ and its config.json (from the stack's outputs) into its bucket.
	$(BIN)/python -m tools.publish_app --stack-name foule-$(STAGE)

clean:
	rm -rf $(VENV) $(LINT_VENV) .local .pytest_cache dist node_modules web/node_modules $(REPORT_JS)
