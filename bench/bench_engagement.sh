#!/usr/bin/env bash
# `make bench-engagement [N=1000000]`: one count of each engagement filter at N list contacts
# (bench/bench_engagement.py), on a database of its own, dropped afterwards.
set -euo pipefail
source "$(dirname "$0")/../scripts/dev/odoo_env.sh"
cd "$ROOT"
DB="smc_bench_engagement_$$"
trap 'dropdb --if-exists "$DB" >/dev/null 2>&1 || true' EXIT
odoo_bin -d "$DB" -i sms_marketing_custom --without-demo=all --stop-after-init --no-http --max-cron-threads=0 \
    --log-level=warn
N="${1:-${N:-1000000}}" "$PYTHON" "$ODOO_PATH/odoo-bin" shell -c "$ODOO_RC" -d "$DB" --no-http --log-level=warn < bench/bench_engagement.py
