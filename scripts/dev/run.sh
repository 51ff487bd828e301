#!/usr/bin/env bash
# `make run`: a database with the module and demo data, served on 127.0.0.1:8069.
set -euo pipefail
source "$(dirname "$0")/odoo_env.sh"
DB="${SMS_DB:-sms_marketing}"
PORT="${SMS_PORT:-8069}"
if ! psql -lqt | cut -d'|' -f1 | grep -qw "$DB"; then
    echo "[run] creating database $DB with sms_marketing_custom and demo data (about a minute)" >&2
    odoo_bin -d "$DB" -i base --stop-after-init --log-level=warn
    # The demo SMS carry tracked and opt-out links built on web.base.url: make it the address this
    # server answers on before they are written (Odoo's default is http://localhost:8069).
    psql -q -d "$DB" -c "UPDATE ir_config_parameter SET value = 'http://127.0.0.1:$PORT' WHERE key = 'web.base.url'"
    odoo_bin -d "$DB" -i sms_marketing_custom --stop-after-init --log-level=warn
else
    # Keeps the data; only brings the module's code and views up to date.
    echo "[run] database $DB exists: updating sms_marketing_custom" >&2
    odoo_bin -d "$DB" -u sms_marketing_custom --stop-after-init --log-level=warn
fi
echo
echo "  SMS Marketing: http://127.0.0.1:$PORT/web#action=sms_marketing_custom.sms_marketing_mailing_action"
echo "  Open http://127.0.0.1:$PORT  and log in as admin / admin   (Ctrl+C stops the server)"
echo
exec "$PYTHON" "$ODOO_PATH/odoo-bin" -c "$ODOO_RC" -d "$DB" --db-filter="^$DB\$" \
    --http-interface=127.0.0.1 --http-port="$PORT" --max-cron-threads=2
