# The two commands of the README:  make run  (the portal, demo data flowing)  and  make test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run banner test install lint messages makemessages messages-check migrate lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# requirements.lock pins every dependency (constraints): installs are repeatable.
$(STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

.env:
	$(PYTHON) scripts/write_dotenv.py .env

install: $(STAMP) .env

messages: install
	@if [ ! -d locale ]; then echo "no translations yet (locale/ is missing)"; \
	elif command -v msgfmt >/dev/null 2>&1; then $(BIN)/python manage.py compilemessages -v0 --ignore=.venv; \
	else echo "msgfmt not found: using the committed .mo files"; fi

# After adding UI text: refresh the catalogue from the code, translate what messages-check
# lists in locale/zh_Hans/LC_MESSAGES/django.po, then `make messages` and commit .po and .mo.
MAKEMESSAGES_IGNORE := --ignore=.venv --ignore=var --ignore=node_modules --ignore=bench --ignore=tests
makemessages: install
	$(BIN)/python manage.py makemessages -l zh_Hans $(MAKEMESSAGES_IGNORE)
	@$(PYTHON) scripts/i18n_check.py --quiet || true

# Lists untranslated and fuzzy msgids with their source locations; fails when there are any.
messages-check:
	$(PYTHON) scripts/i18n_check.py

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: install messages migrate
	$(BIN)/python manage.py create_demo_users
	$(BIN)/python manage.py collectstatic --noinput -v0
	@$(MAKE) -s banner
	exec $(BIN)/honcho start -f Procfile

# The address the web process listens on (Procfile: PORTAL_PORT, default 8000).
banner:
	@echo "Portal: http://127.0.0.1:$${PORTAL_PORT:-8000}/admin/   (Ctrl-C stops web, worker and beat)"

# The suite runs in PYTEST_WORKERS parallel processes (pytest-xdist; 0 runs it in this one):
# most tests wait on simulators and workers, so three processes suit a two-core machine.
PYTEST_WORKERS ?= 3
test: install messages
	PORTAL_DB_CONN_MAX_AGE=0 $(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Re-pin after changing dependencies in pyproject.toml (then commit requirements.lock).
lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade -e '.[dev]'
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
