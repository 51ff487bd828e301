#!/usr/bin/env bash
# The module beside Odoo's own SMS Marketing (mass_mailing_sms), Surveys, CRM and Website, on one
# database without demo data: the four installed first, then ours.
#   - ours installs, upgrades (-u) and uninstalls with no WARNING/ERROR/CRITICAL logged, and leaves
#     no table behind;
#   - the two SMS apps have different names (app, root menu, mailing action/breadcrumb);
#   - with an HTTP server on the database (scripts/check/coexistence_driver.py): our tracked link (new and
#     legacy path) redirects, our opt-out page and signed webhook answer, and Odoo's routes we could
#     shadow still reach their apps: Surveys' /s/<session_code>, link_tracker's /r/<code>,
#     mass_mailing_sms' /sms/<mailing>/<code>.
# One line per check, "coexistence: clean" at the end; a one-line reason and exit 1 otherwise.
# COEXIST_KEEP_DB=1 keeps the database (and its log) for a look afterwards.
set -euo pipefail
source "$(dirname "$0")/../dev/odoo_env.sh"
DB="coex_check_$(date +%s)_$$"
LOG="$ROOT/.odoo/coexistence-$DB.log"
STATE="$ROOT/.odoo/coexistence-$DB.json"
APPS="mass_mailing_sms,survey,crm,website"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ "${COEXIST_KEEP_DB:-}" != 1 ]]; then
        dropdb --if-exists "$DB" >/dev/null 2>&1 || true
        rm -f "$STATE"
    fi
}
trap cleanup EXIT
: >"$LOG"
started=$SECONDS

fail() {
    echo "coexistence failed: $1; full log: $LOG"
    exit 1
}
# Lines logged at WARNING or above since line $1 of the log; $2: "ours" keeps only those about our
# module (Odoo's apps may warn about themselves; they are not under test).
bad_lines() {
    local pattern=" (WARNING|ERROR|CRITICAL) "
    if [[ "$2" == ours ]]; then
        tail -n +"$1" "$LOG" | grep -E "$pattern" | grep -E "sms_marketing|SmsMarketing" || true
        tail -n +"$1" "$LOG" | grep -E " (ERROR|CRITICAL) " || true
    else
        tail -n +"$1" "$LOG" | grep -E " (ERROR|CRITICAL) " || true
    fi
}
# step WHAT SCOPE COMMAND...: runs COMMAND, its output appended to the log; fails on its exit status
# or on what bad_lines finds in what it logged.
step() {
    local what="$1" scope="$2" from bad
    shift 2
    from=$(($(wc -l <"$LOG") + 1))
    "$@" >>"$LOG" 2>&1 || fail "$what (exit $?)"
    bad="$(bad_lines "$from" "$scope" | sort -u)"
    [[ -z "$bad" ]] || fail "$what logged: $(head -1 <<<"$bad")"
    echo "coexistence: ok $what"
}
odoo_init() { odoo_bin -d "$DB" --without-demo=all --stop-after-init --log-level=warn --max-cron-threads=0 \
    --http-port="$(free_port)" "$@"; }

step "Odoo's $APPS installed without demo data" odoo odoo_init -i "$APPS"
step "sms_marketing_custom installed beside them" ours odoo_init -i sms_marketing_custom
step "sms_marketing_custom upgraded (-u)" ours odoo_init -u sms_marketing_custom
# Odoo's sms module is there: the Odoo SMS credits bridge comes with it (auto_install)
bridge="$(psql -d "$DB" -tAc "SELECT state FROM ir_module_module WHERE name = 'sms_marketing_custom_iap'")"
[[ "$bridge" == "installed" ]] || fail "the bridge sms_marketing_custom_iap is '$bridge' beside Odoo's sms module"
bridge="$(psql -d "$DB" -tAc "SELECT state FROM ir_module_module WHERE name = 'sms_marketing_custom_sms'")"
[[ "$bridge" == "installed" ]] || fail "the bridge sms_marketing_custom_sms is '$bridge' beside Odoo's sms module"
echo "coexistence: ok sms_marketing_custom_iap and sms_marketing_custom_sms installed by themselves beside Odoo's sms module"
# CRM without Sales: the leads bridge follows the sales bridge (which owns the mailings' UTM values and the
# attribution rule), so it waits for Sales and does not bring it
bridge="$(psql -d "$DB" -tAc "SELECT state FROM ir_module_module WHERE name = 'sms_marketing_custom_crm'")"
[[ "$bridge" == "uninstalled" ]] || fail "the bridge sms_marketing_custom_crm is '$bridge' beside CRM without Sales"
echo "coexistence: ok sms_marketing_custom_crm not installed beside CRM without Sales"
# driver COMMAND ARGS...: its "coexistence:" lines are shown, Odoo's logging goes to the log.
driver() {
    local out status=0
    out="$("$PYTHON" "$ROOT/scripts/check/coexistence_driver.py" "$@" 2>>"$LOG")" || status=$?
    [[ -z "$out" ]] || echo "$out"
    if [[ $status != 0 ]]; then
        grep -q "^coexistence failed" <<<"$out" && exit 1
        fail "coexistence_driver.py $1 exited $status: $(grep -v '^\s*$' "$LOG" | tail -1)"
    fi
}
from=$(($(wc -l <"$LOG") + 1))
driver prepare --config "$ODOO_RC" --database "$DB" --state "$STATE"

# HTTP server on the database, checked with the driver, then stopped
port="$(free_port)"
# odoo-bin itself in the background (not the odoo_bin function's subshell), so that $! is what to stop
"$PYTHON" "$ODOO_PATH/odoo-bin" -c "$ODOO_RC" -d "$DB" --db-filter="^$DB\$" --http-interface=127.0.0.1 \
    --http-port="$port" --workers=0 --max-cron-threads=0 --log-level=warn >>"$LOG" 2>&1 &
server_pid=$!
for _ in $(seq 1 240); do
    if "$PYTHON" -c "import http.client as h, sys
c = h.HTTPConnection('127.0.0.1', $port, timeout=5); c.request('GET', '/web/health'); sys.exit(c.getresponse().status != 200)" \
        2>/dev/null; then
        break
    fi
    kill -0 "$server_pid" 2>/dev/null || fail "the HTTP server stopped at start-up"
    sleep 0.5
done
driver probe --state "$STATE" --port "$port"
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
bad="$(bad_lines "$from" ours | sort -u)"
[[ -z "$bad" ]] || fail "the driver or the HTTP server logged: $(head -1 <<<"$bad")"
echo "coexistence: ok nothing logged about our module while serving"

uninstall() {
    echo "env['ir.module.module'].search([('name', '=', 'sms_marketing_custom')]).button_immediate_uninstall()
env.cr.commit()" | "$PYTHON" "$ODOO_PATH/odoo-bin" shell -c "$ODOO_RC" -d "$DB" --no-http --log-level=warn
}
step "sms_marketing_custom uninstalled" ours uninstall
left="$(psql -d "$DB" -tAc "SELECT string_agg(tablename, ', ') FROM pg_tables WHERE tablename LIKE 'sms\_marketing\_%'")"
[[ -z "$left" ]] || fail "tables left after uninstall: $left"
state="$(psql -d "$DB" -tAc "SELECT string_agg(DISTINCT state, ',') FROM ir_module_module
                             WHERE name IN ('sms_marketing_custom', 'sms_marketing_custom_iap',
                                            'sms_marketing_custom_sms')")"
[[ "$state" == "uninstalled" ]] || fail "module state after uninstall is '$state'"
others="$(psql -d "$DB" -tAc "SELECT count(*) FROM ir_module_module WHERE name IN ('mass_mailing_sms', 'survey', 'crm', 'website') AND state = 'installed'")"
[[ "$others" == 4 ]] || fail "only $others of Odoo's four apps are still installed after the uninstall"
echo "coexistence: ok no table of ours left, Odoo's four apps still installed"
echo "coexistence: clean ($((SECONDS - started)) s)"
[[ "${COEXIST_KEEP_DB:-}" == 1 ]] || rm -f "$LOG"
