#!/usr/bin/env bash
# `make bench-journey` (or BENCH_MODE=journey make bench): the journey mode of the benchmark,
# bench/journey.py run by odoo-bin shell once per size of BENCH_JOURNEY_NS (default 10000,100000),
# each on a fresh copy of a template with the module installed without demo data (kept as
# ${BENCH_DB_PREFIX}_tpl_journey_<module hash>; the copies are dropped). Same provenance line as the others.
set -euo pipefail
source "$(dirname "$0")/../scripts/dev/odoo_env.sh"
cd "$ROOT"
prefix="${BENCH_DB_PREFIX:-smc_bench}"
# the module's hash as the other benches name their templates (bench.py's _addon_hash)
hash="$(cd bench && "$PYTHON" -c 'import bench; print(bench._addon_hash())')"
template="${prefix}_tpl_journey_${hash}"
if [[ "$(psql -X -tAc "SELECT 1 FROM pg_database WHERE datname = '$template'" postgres)" != 1 ]]; then
    for old in $(psql -X -tAc "SELECT datname FROM pg_database WHERE datname LIKE '${prefix}_tpl_journey_%'" postgres); do
        dropdb "$old"
    done
    echo "[bench] installing sms_marketing_custom (without demo) in template $template" >&2
    odoo_bin -d "$template" -i sms_marketing_custom --without-demo=all --stop-after-init --max-cron-threads=0 \
        --log-level=warn --http-port="$(free_port)" >&2
fi
IFS=, read -r -a sizes <<<"${BENCH_JOURNEY_NS:-10000,100000}"
for n in "${sizes[@]}"; do
    db="${prefix}_journey_$n"
    dropdb --if-exists "$db" >/dev/null 2>&1
    createdb -T "$template" "$db"
    trap 'dropdb --if-exists "$db" >/dev/null 2>&1 || true' EXIT
    N="$n" "$PYTHON" "$ODOO_PATH/odoo-bin" shell -c "$ODOO_RC" -d "$db" --no-http --log-level=warn <bench/journey.py
    dropdb --if-exists "$db"
done
