#!/usr/bin/env bash
# `make bench [N=100000]`: sms_marketing_custom against Odoo 17's mass_mailing_sms,
# same audience, same PostgreSQL, same Odoo tree. See bench/bench.py.
# `make bench-scale` (BENCH_PLAN=scale): the scale plan, N ignored; see bench/bench.py.
set -euo pipefail
# BENCH_MODE=journey: the journey mode (bench/journey.sh)
[[ "${BENCH_MODE:-}" == journey ]] && exec bash "$(dirname "$0")/journey.sh"
source "$(dirname "$0")/../scripts/dev/odoo_env.sh"
cd "$ROOT"
# Odoo's SMS composer reads the recipient ids back with literal_eval, limited to
# 100 KiB by default (about 14,600 ids): raised so that its side can run at 50,000+.
export ODOO_LIMIT_LITEVAL_BUFFER="${ODOO_LIMIT_LITEVAL_BUFFER:-1000000000}"
exec "$PYTHON" "bench/${BENCH_SCRIPT:-bench}.py" "${1:-${N:-10000}}"
