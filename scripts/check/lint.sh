#!/usr/bin/env bash
# ruff (lint + format check) and pylint-odoo's mandatory checks for 17.0.
set -euo pipefail
source "$(dirname "$0")/../dev/odoo_env.sh"
cd "$ROOT"
bin="$(dirname "$PYTHON")"
"$bin/ruff" check .
"$bin/ruff" format --check .
"$bin/pylint" --rcfile=.pylintrc sms_marketing_custom sms_marketing_custom_iap sms_marketing_custom_sale sms_marketing_custom_crm sms_marketing_custom_website sms_marketing_custom_sms
echo "lint: ruff and pylint-odoo clean"
