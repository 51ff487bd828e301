#!/usr/bin/env bash
# The module's life on a database without demo data: install, upgrade (-u),
# uninstall. Fails on any ERROR/CRITICAL/WARNING logged by Odoo, and when a
# table of the module survives the uninstall.
set -euo pipefail
source "$(dirname "$0")/../dev/odoo_env.sh"
DB="smc_lifecycle_$(date +%s)_$$"
LOG="$ROOT/.odoo/lifecycle-$DB.log"
trap 'dropdb --if-exists "$DB" >/dev/null 2>&1 || true' EXIT
step() {
    echo "lifecycle: $1"
    shift
    if ! "$@" >>"$LOG" 2>&1 || grep -qE " (WARNING|ERROR|CRITICAL) " "$LOG"; then
        grep -E " (WARNING|ERROR|CRITICAL) " "$LOG" | tail -20
        echo "lifecycle failed at: $*; full log: $LOG"
        exit 1
    fi
}
step "install without demo data" odoo_bin -d "$DB" -i sms_marketing_custom --without-demo=all --stop-after-init \
    --log-level=warn --max-cron-threads=0
step "upgrade" odoo_bin -d "$DB" -u sms_marketing_custom --stop-after-init --log-level=warn --max-cron-threads=0
uninstall() {
    echo "env['ir.module.module'].search([('name', '=', 'sms_marketing_custom')]).button_immediate_uninstall()
env.cr.commit()" | "$PYTHON" "$ODOO_PATH/odoo-bin" shell -c "$ODOO_RC" -d "$DB" --no-http --log-level=warn
}
step "uninstall" uninstall
left="$(psql -d "$DB" -tAc "SELECT string_agg(tablename, ', ') FROM pg_tables WHERE tablename LIKE 'sms\_marketing\_%'")"
[[ -z "$left" ]] || { echo "lifecycle failed: tables left after uninstall: $left"; exit 1; }
left="$(psql -d "$DB" -tAc "SELECT string_agg(proname, ', ') FROM pg_proc WHERE proname LIKE 'sms\_marketing\_%'")"
[[ -z "$left" ]] || { echo "lifecycle failed: functions left after uninstall: $left"; exit 1; }
state="$(psql -d "$DB" -tAc "SELECT state FROM ir_module_module WHERE name = 'sms_marketing_custom'")"
[[ "$state" == "uninstalled" ]] || { echo "lifecycle failed: module state after uninstall is '$state'"; exit 1; }
echo "lifecycle: install, upgrade and uninstall are clean"
rm -f "$LOG"
