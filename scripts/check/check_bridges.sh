#!/usr/bin/env bash
# The bridge addons with their Odoo apps, on a database of their own without demo data:
# sms_marketing_custom_sale (Sales, UTM), sms_marketing_custom_crm (CRM, leads), sms_marketing_custom_website
# (Website) and sms_marketing_custom_sms (Odoo's SMS through the gateways) installed with Odoo's test runner,
# their own tests run (post_install; the website's tours in Chromium, desktop and 390 px).
# One line "bridges: ok (N s)" at the end; the log's failing lines and exit 1 otherwise.
set -euo pipefail
source "$(dirname "$0")/../dev/odoo_env.sh" --with-browser
DB="smc_bridges_check_$(date +%s)_$$"
LOG="$ROOT/.odoo/bridges-$DB.log"
trap 'dropdb --if-exists "$DB" >/dev/null 2>&1 || true' EXIT
started=$SECONDS
status=0
odoo_bin -d "$DB" -i sms_marketing_custom_sale,sms_marketing_custom_crm,sms_marketing_custom_website,sms_marketing_custom_sms \
    --without-demo=all --test-enable --stop-after-init --log-level=test --http-port="$(free_port)" \
    --max-cron-threads=0 --test-tags=/sms_marketing_custom_sale,/sms_marketing_custom_crm,/sms_marketing_custom_website,/sms_marketing_custom_sms \
    >"$LOG" 2>&1 || status=$?
if [[ $status != 0 ]] || grep -qE " (ERROR|CRITICAL) " "$LOG"; then
    grep -E "(ERROR|CRITICAL|FAIL:)" "$LOG" | head -20 || true
    echo "bridges failed (exit $status); full log: $LOG"
    exit 1
fi
grep -E "odoo.tests.result: .*tests" "$LOG" | tail -1 || true
echo "bridges: ok ($((SECONDS - started)) s)"
rm -f "$LOG"
