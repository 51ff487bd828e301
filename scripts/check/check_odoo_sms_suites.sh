#!/usr/bin/env bash
# Odoo's own SMS test suites (sms, mass_mailing_sms) with sms_marketing_custom_sms installed and its option
# on: every Odoo SMS routed to a gateway on the stand-in (sms_marketing_custom/tests/common.py's simulator).
# They run with pytest-odoo, the database's whole registry loaded: odoo-bin's --test-tags would run these
# at_install tests while their module loads, before the bridge is in the registry (a pass that tests nothing).
# Odoo's tests mock the call to IAP (sms.tests.common.MockSMS), the very call the bridge takes over: with the
# option on they still test Odoo's code, behind the bridge's claim and routing.
# One line "odoo sms suites: ok (N s)" at the end; pytest's summary and exit 1 otherwise.
set -euo pipefail
source "$(dirname "$0")/../dev/odoo_env.sh"
DB="smc_odoo_sms_suites_$(date +%s)_$$"
trap 'dropdb --if-exists "$DB" >/dev/null 2>&1 || true' EXIT
started=$SECONDS
odoo_bin -d "$DB" -i mass_mailing_sms,sms_marketing_custom_sms --without-demo=all --stop-after-init \
    --log-level=warn --http-port="$(free_port)" --max-cron-threads=0 >/dev/null
CONF="$(mktemp)"
trap 'rm -f "$CONF"; dropdb --if-exists "$DB" >/dev/null 2>&1 || true' EXIT
cp "$ODOO_RC" "$CONF" && echo "http_port = $(free_port)" >>"$CONF"
"$PYTHON" - "$CONF" "$DB" <<'PY'
import subprocess
import sys

import odoo

conf, db = sys.argv[1:3]
odoo.tools.config.parse_config(["-c", conf])
from odoo.addons.sms_marketing_custom.tests.common import load_gateway_simulator  # noqa: E402

sim = load_gateway_simulator().Simulator(balance=1e9, delivery=None).start()
with odoo.registry(db).cursor() as cr:
    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
    gateway = env["sms.marketing.gateway"].create(
        {"name": "Stand-in", "provider": "http", "endpoint_url": sim.url, "allow_private_network": True,
         "api_key": sim.api_key, "webhook_secret": sim.webhook_secret, "sequence": 0, "default_price": 1.0}
    )
    gateway._change_balance(1e6, "purchase")
    env["ir.config_parameter"].set_param("sms_marketing_custom_sms.route_odoo_sms", "True")
addons = odoo.modules.module.get_module_path
status = subprocess.call(
    [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-W", "ignore", f"--odoo-database={db}",
     f"--odoo-config={conf}", "--odoo-http", f"{addons('sms')}/tests", f"{addons('mass_mailing_sms')}/tests"]
)
sim.stop()
sys.exit(status)
PY
echo "odoo sms suites: ok ($((SECONDS - started)) s)"
