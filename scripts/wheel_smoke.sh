#!/usr/bin/env bash
# The wheel test (issue 22): what a deployment gets, proved from outside the checkout.
#
#   1. export the committed tree (git archive, so nothing untracked or ignored slips in),
#   2. build the wheel from that export,
#   3. install it non-editable into a fresh virtual environment, requirements.lock as constraints,
#   4. from an empty directory outside the checkout, with production settings (PORTAL_DEBUG off,
#      secrets, DATABASE_URL on its own PostgreSQL database, REDIS_URL):
#      `check --deploy` (warnings fail), `makemigrations --check` (the packaged migrations are
#      complete), `migrate`, `collectstatic`, then gunicorn answering /healthz, the admin login
#      page and a static file; then the deploy/ worker and beat commands start, the worker
#      answers a ping, and both stop on SIGTERM.
#
# deploy/ (systemd units, Dockerfile) installs the portal with the same steps.
# Environment (all optional): PORTAL_SMOKE_REF (git ref, default HEAD), PORTAL_SMOKE_PORT (8099),
# PORTAL_SMOKE_DB (portal_wheel_smoke, dropped and created), PORTAL_SMOKE_PG
# (postgres://postgres@127.0.0.1:5432), PORTAL_SMOKE_REDIS_URL (redis://127.0.0.1:6379/15),
# PORTAL_SMOKE_KEEP=1 keeps the work directory, PORTAL_SMOKE_TMPDIR (default /dev/shm when
# writable, else $TMPDIR), PYTHON (python3).
# The pip cache (~/.cache/pip) is reused, so a second run installs without downloading.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REF=${PORTAL_SMOKE_REF:-HEAD}
PORT=${PORTAL_SMOKE_PORT:-8099}
DB=${PORTAL_SMOKE_DB:-portal_wheel_smoke}
PG=${PORTAL_SMOKE_PG:-postgres://postgres@127.0.0.1:5432}
REDIS=${PORTAL_SMOKE_REDIS_URL:-redis://127.0.0.1:6379/15}
PYTHON=${PYTHON:-python3}
# The throw-away venv lives in memory when it can (/dev/shm): writing and deleting its ~10,000
# files on a busy shared disk took longer than everything else together.
if [ -z "${PORTAL_SMOKE_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  probe=$(mktemp /dev/shm/portal-exec-probe.XXXXXX)
  printf '#!/bin/sh\nexit 0\n' >"$probe" && chmod +x "$probe"
  "$probe" 2>/dev/null && PORTAL_SMOKE_TMPDIR=/dev/shm  # not when mounted noexec
  rm -f "$probe"
fi
WORK=$(mktemp -d "${PORTAL_SMOKE_TMPDIR:-${TMPDIR:-/tmp}}/portal-wheel-smoke.XXXXXX")
export TMPDIR="$WORK/tmp"  # pip's build environments too
mkdir -p "$TMPDIR"
START=$(date +%s)
gunicorn_pid=""
worker_pid=""
beat_pid=""

step() { printf '=== wheel smoke [%3ss] %s\n' "$(($(date +%s) - START))" "$*"; }

# Stops a process started with setsid as systemd's KillMode=mixed does: SIGTERM to the main
# process only, up to $2 seconds, then SIGKILL to its whole group. Returns 1 when SIGKILL was
# needed.
stop_group() {
  local pid=$1 seconds=${2:-10}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq $((seconds * 2))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  return 1
}

cleanup() {
  local rc=$?
  stop_group "$gunicorn_pid" 10 || true
  stop_group "$worker_pid" 10 || true
  stop_group "$beat_pid" 10 || true
  if [ "$rc" -ne 0 ]; then
    for log in gunicorn worker beat; do
      [ -f "$WORK/$log.log" ] && { echo "--- $log log"; tail -n 40 "$WORK/$log.log"; }
    done
  fi
  local t0=$SECONDS
  dropdb --if-exists -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$DB" 2>/dev/null || true
  local t1=$SECONDS
  if [ "${PORTAL_SMOKE_KEEP:-}" = "1" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  echo "=== wheel smoke: cleaned up (database $((t1 - t0)) s, files $((SECONDS - t1)) s)"
  exit "$rc"
}

# postgres://user@host:port -> parts for createdb/dropdb.
PG_REST=${PG#*://}
PG_USER=${PG_REST%%@*}
PG_HOSTPORT=${PG_REST#*@}
PG_HOST=${PG_HOSTPORT%%:*}
PG_PORT=${PG_HOSTPORT##*:}
trap cleanup EXIT

step "export $REF from $ROOT"
mkdir -p "$WORK/src" "$WORK/dist" "$WORK/run"
git -C "$ROOT" archive --format=tar "$REF" | tar -x -C "$WORK/src"

step "virtual environment"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"

step "build the wheel"
"$VPY" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/dist" "$WORK/src" 2>"$WORK/build.log" \
  || { cat "$WORK/build.log"; exit 1; }
wheel=$(ls "$WORK"/dist/integration_portal-*.whl)
echo "$(basename "$wheel"): $(unzip -Z1 "$wheel" | wc -l) files"

step "install the wheel (non-editable, requirements.lock as constraints)"
"$VPY" -m pip install --quiet -c "$ROOT/requirements.lock" "$wheel" 2>"$WORK/install.log" \
  || { cat "$WORK/install.log"; exit 1; }
rm -rf "$WORK/src"  # nothing of the checkout is left to fall back on

# Production settings, as deploy/ sets them. Outside the checkout: no manage.py, no .env.
cd "$WORK/run"
export PATH="$WORK/venv/bin:$PATH"
unset PYTHONPATH DJANGO_SETTINGS_MODULE CELERY_BROKER_URL
export PORTAL_DEBUG=false
export PORTAL_SECRET_KEY
PORTAL_SECRET_KEY=$("$VPY" -c 'import secrets; print(secrets.token_urlsafe(64))')
export PORTAL_ENCRYPTION_KEY
PORTAL_ENCRYPTION_KEY=$("$VPY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
export PORTAL_ALLOWED_HOSTS=127.0.0.1,localhost
export PORTAL_BEHIND_PROXY=true  # TLS ends at the proxy: it sends X-Forwarded-Proto
export DATABASE_URL="$PG/$DB"
export REDIS_URL=$REDIS
export PORTAL_KEY_PREFIX="wheel-smoke-$$"
export PORTAL_VAR_DIR="$WORK/var"
export PORTAL_SANDBOX_ENABLED=false PORTAL_DEMO=false

step "the installed code is the wheel's, not the checkout's"
"$VPY" - "$WORK/venv" <<'EOF'
import importlib, sys
from pathlib import Path
venv = Path(sys.argv[1]).resolve()
for name in ("integration_portal", "core", "connectors", "mappings", "flows", "monitoring",
             "masterdata", "finance", "sandbox"):
    where = Path(importlib.import_module(name).__file__).resolve()
    assert venv in where.parents, f"{name} imported from {where}, not from the wheel"
import integration_portal
package = Path(integration_portal.__file__).resolve().parent
for asset in ("templates/admin/index.html", "static/monitoring/operations.css",
              "locale/zh_Hans/LC_MESSAGES/django.mo"):
    assert (package / asset).is_file(), f"{asset} is not in the wheel"
print("apps, templates, static files and translations come from", venv)
EOF

step "check --deploy (warnings fail)"
integration-portal check --deploy --fail-level WARNING

step "a fresh PostgreSQL database ($DB)"
dropdb --if-exists -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$DB" 2>/dev/null
createdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$DB"

step "makemigrations --check (the packaged migrations match the models)"
integration-portal makemigrations --check --dry-run

step "migrate"
integration-portal migrate --noinput -v1 | tail -n 3

step "collectstatic"
integration-portal collectstatic --noinput -v1 | tail -n 1

step "gunicorn on 127.0.0.1:$PORT"
setsid gunicorn integration_portal.wsgi --bind "127.0.0.1:$PORT" --workers 1 --threads 4 \
  --timeout 60 >"$WORK/gunicorn.log" 2>&1 &
gunicorn_pid=$!
ok=""
for _ in $(seq 60); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null; then ok=1; break; fi
  kill -0 "$gunicorn_pid" 2>/dev/null || break
  sleep 0.5
done
[ -n "$ok" ] || { echo "gunicorn did not answer /healthz"; exit 1; }

step "GET /healthz, the admin login page, a static file"
health=$(curl -sS -w '\n%{http_code}' "http://127.0.0.1:$PORT/healthz")
echo "/healthz: $health" | tr '\n' ' '; echo
[ "${health##*$'\n'}" = "200" ] || { echo "/healthz did not answer 200"; exit 1; }
login=$(curl -sS -H 'X-Forwarded-Proto: https' -H 'Accept-Language: en' -w '\n%{http_code}' \
  "http://127.0.0.1:$PORT/admin/login/?next=/admin/")
[ "${login##*$'\n'}" = "200" ] || { echo "/admin/login/ answered ${login##*$'\n'}"; exit 1; }
grep -q 'name="csrfmiddlewaretoken"' <<<"$login" || { echo "no login form"; exit 1; }
grep -q 'Integration Portal' <<<"$login" || { echo "login page without the portal's title"; exit 1; }
echo "/admin/login/: 200, login form"
zh=$(curl -sS -H 'X-Forwarded-Proto: https' -H 'Accept-Language: zh-hans' \
  "http://127.0.0.1:$PORT/admin/login/?next=/admin/")
grep -q '集成平台' <<<"$zh" || { echo "login page not translated: the .mo is missing"; exit 1; }
echo "/admin/login/ (zh-hans): translated"
css=$(curl -sS -o /dev/null -w '%{http_code}' -H 'X-Forwarded-Proto: https' \
  "http://127.0.0.1:$PORT/static/monitoring/operations.css")
[ "$css" = "200" ] || { echo "/static/monitoring/operations.css answered $css"; exit 1; }
echo "/static/monitoring/operations.css: 200"

stop_group "$gunicorn_pid" 10 || { echo "gunicorn ignored SIGTERM"; exit 1; }
gunicorn_pid=""

# The worker and beat commands of deploy/ (systemd units, compose file) from the wheel: the worker
# answers a ping, and both stop on SIGTERM (Celery's warm shutdown) well within their budgets.
step "celery worker: starts, answers a ping, stops on SIGTERM"
setsid celery -A integration_portal worker --loglevel INFO --concurrency 1 \
  --hostname "smoke-$$@%h" >"$WORK/worker.log" 2>&1 &
worker_pid=$!
pong=""
for _ in $(seq 30); do
  if celery -A integration_portal inspect ping --destination "smoke-$$@$(hostname)" --timeout 2 \
    >/dev/null 2>&1; then pong=1; break; fi
  kill -0 "$worker_pid" 2>/dev/null || break
  sleep 1
done
[ -n "$pong" ] || { echo "the worker did not answer a ping"; exit 1; }
echo "worker smoke-$$@$(hostname): pong"
stop_group "$worker_pid" 60 || { echo "the worker did not stop on SIGTERM within 60 s"; exit 1; }
worker_pid=""
grep -qi "warm shutdown" "$WORK/worker.log" || { echo "no warm shutdown in the worker log"; exit 1; }
echo "worker: warm shutdown on SIGTERM"

step "celery beat: starts with the database scheduler, stops on SIGTERM"
setsid celery -A integration_portal beat --loglevel INFO \
  --scheduler django_celery_beat.schedulers:DatabaseScheduler >"$WORK/beat.log" 2>&1 &
beat_pid=$!
# Started = the database scheduler has installed its default entry. (A SIGTERM in the first
# instants, while django-celery-beat still builds its scheduler, can hang beat in that setup:
# an upstream race, harmless under systemd, which kills beat after TimeoutStopSec.)
started=""
for _ in $(seq 60); do
  if psql "$DATABASE_URL" -tAc \
    "SELECT 1 FROM django_celery_beat_periodictask WHERE name = 'celery.backend_cleanup'" \
    2>/dev/null | grep -q 1; then started=1; break; fi
  kill -0 "$beat_pid" 2>/dev/null || break
  sleep 0.5
done
[ -n "$started" ] || { echo "beat did not start"; exit 1; }
stop_group "$beat_pid" 30 || { echo "beat did not stop on SIGTERM within 30 s"; exit 1; }
beat_pid=""
echo "beat: started and stopped"

step "passed in $(($(date +%s) - START)) s"
