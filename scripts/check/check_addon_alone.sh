#!/usr/bin/env bash
# The addon folder on its own, as README's "copy this folder" installs it: only sms_marketing_custom is
# copied into an empty addons directory (no scripts/, no bridge addons beside it), installed on a
# database of its own with Odoo's test runner, and the tests that start the provider stand-ins
# (tests/standins) run there. ADDON_ALONE_TAGS chooses other tests (Odoo's --test-tags syntax).
# One line "addon-alone: ok (N s)" at the end; the log's failing lines and exit 1 otherwise.
set -euo pipefail
source "$(dirname "$0")/../dev/odoo_env.sh"
DB="smc_addon_alone_$(date +%s)_$$"
LOG="$ROOT/.odoo/addon-alone-$DB.log"
work="$(mktemp -d)"
trap 'dropdb --if-exists "$DB" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
mkdir -p "$work/addons" "$work/data"
cp -r "$ROOT/sms_marketing_custom" "$work/addons/"
find "$work/addons" -name __pycache__ -prune -exec rm -rf {} +
tags="${ADDON_ALONE_TAGS:-/sms_marketing_custom:TestTwilioProvider,/sms_marketing_custom:TestVonageProvider}"
started=$SECONDS
status=0
# the repository appears nowhere: neither in the addons path nor as the data directory
"$PYTHON" "$ODOO_PATH/odoo-bin" -c "$ODOO_RC" --addons-path="$ODOO_PATH/addons,$ODOO_PATH/odoo/addons,$work/addons" \
    --data-dir="$work/data" -d "$DB" -i sms_marketing_custom --test-enable --test-tags="$tags" --stop-after-init \
    --log-level=test --http-port="$(free_port)" --max-cron-threads=0 >"$LOG" 2>&1 || status=$?
ran="$(grep -oE "odoo.tests.result: [0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests" "$LOG" | tail -1 || true)"
if [[ $status != 0 ]] || grep -qE " (ERROR|CRITICAL) " "$LOG" || [[ -z "$ran" ]] || [[ "$ran" == *" of 0 tests" ]]; then
    grep -E "(ERROR|CRITICAL|FAIL:)" "$LOG" | head -20 || true
    echo "addon-alone failed (exit $status); full log: $LOG"
    exit 1
fi
echo "addon-alone: ok, ${ran#odoo.tests.result: } from a copy of sms_marketing_custom alone ($((SECONDS - started)) s)"
rm -f "$LOG"
