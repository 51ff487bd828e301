#!/usr/bin/env bash
# `make test`: what an Odoo CI does, then lint.
#   0. the bootstrap's failures on a machine missing something (scripts/check/check_bootstrap.sh);
#   1. install the module on a fresh database with Odoo's own test runner
#      (--test-enable: at_install and post_install tests, browser tours included),
#      and, meanwhile, install / upgrade / uninstall it on a database without demo data
#      (scripts/check/check_lifecycle.sh) and beside Odoo's SMS Marketing, Surveys, CRM and Website
#      (scripts/check/check_coexistence.sh: routes served by the right app, names told apart), and the bridge
#      addons' own tests with Sales and Website (scripts/check/check_bridges.sh);
#   2. `make lint`;
#   3. the pytest-odoo suite on the test database (HttpCase tests with --odoo-http).
# It ends with pytest's summary line and exits non-zero on any failure.
set -euo pipefail
source "$(dirname "$0")/../dev/odoo_env.sh" --with-browser
DB="smc_test_$(date +%s)_$$"
LOG="$ROOT/.odoo/test-$DB.log"
cleanup() { dropdb --if-exists "$DB" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cd "$ROOT"

echo "== 0/3 bootstrap: every failure explained in one line"
bash "$ROOT/scripts/check/check_bootstrap.sh"

echo "== 1/3 Odoo test runner: install sms_marketing_custom on $DB with --test-enable"
# The lifecycle and coexistence checks have their own databases; they run beside the test runner.
bash "$ROOT/scripts/check/check_lifecycle.sh" >"$ROOT/.odoo/lifecycle.out" 2>&1 &
lifecycle_pid=$!
bash "$ROOT/scripts/check/check_coexistence.sh" >"$ROOT/.odoo/coexistence.out" 2>&1 &
coexistence_pid=$!
bash "$ROOT/scripts/check/check_bridges.sh" >"$ROOT/.odoo/bridges.out" 2>&1 &
bridges_pid=$!
status=0
# the Odoo SMS credits bridge too (it needs Odoo's sms module, which mail's dependencies bring)
odoo_bin -d "$DB" -i sms_marketing_custom,sms_marketing_custom_iap --test-enable --stop-after-init --log-level=test \
    --http-port="$(free_port)" --max-cron-threads=0 \
    --test-tags="${ODOO_TEST_TAGS:-/sms_marketing_custom,/sms_marketing_custom_iap}" \
    >"$LOG" 2>&1 || status=$?
grep -E "(ERROR|CRITICAL|FAIL:|Ran [0-9]+ tests|tests? in|failed, )" "$LOG" | tail -40 || true
if [[ $status != 0 ]] || grep -qE " (ERROR|CRITICAL) " "$LOG"; then
    echo "Odoo test runner failed (exit $status); full log: $LOG"
    wait "$lifecycle_pid" || true
    wait "$coexistence_pid" || true
    wait "$bridges_pid" || true
    exit 1
fi
grep -E "odoo.tests.result: .*tests" "$LOG" | tail -1 || true
if ! wait "$lifecycle_pid"; then
    cat "$ROOT/.odoo/lifecycle.out"
    wait "$coexistence_pid" || true
    wait "$bridges_pid" || true
    exit 1
fi
grep "^lifecycle" "$ROOT/.odoo/lifecycle.out"
if ! wait "$coexistence_pid"; then
    cat "$ROOT/.odoo/coexistence.out"
    wait "$bridges_pid" || true
    exit 1
fi
grep "^coexistence" "$ROOT/.odoo/coexistence.out"
if ! wait "$bridges_pid"; then
    cat "$ROOT/.odoo/bridges.out"
    exit 1
fi
grep "^bridges" "$ROOT/.odoo/bridges.out"

echo "== 2/3 lint"
make -s lint

echo "== 3/3 pytest-odoo suite"
"$PYTHON" -m pytest -p no:cacheprovider --odoo-database="$DB" --odoo-config="$ODOO_RC" --odoo-http \
    sms_marketing_custom/tests "$@"
