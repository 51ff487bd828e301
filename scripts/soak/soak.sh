#!/usr/bin/env bash
# `make soak`: the long reliability run (scripts/soak/soak_driver.py, profile "soak").
#   5,000 recipients x 3 mailings on a freshly installed database, 4 sender
#   processes running the queue cron in a loop, 10 SIGKILLs at random points
#   (each followed by a restart), a schedule of gateway faults (time-outs after
#   the gateway accepted, time-outs, 5xx, 429, slow answers, partial batches),
#   then every invariant checked against the simulator; runs RUNS times.
# Options through the environment: RUNS (default 1), SEED (default 17),
#   SOAK_ARGS (extra arguments, e.g. "--recipients 20000 --kills 20").
# Exits non-zero when a run breaks an invariant; the JSON summaries are in
# .odoo/soak-results.jsonl.
set -euo pipefail
source "$(dirname "$0")/../dev/odoo_env.sh"
cd "$ROOT"
runs="${RUNS:-1}"
seed="${SEED:-17}"
out="$ROOT/.odoo/soak-results.jsonl"
: >"$out"
status=0
for run in $(seq 1 "$runs"); do
    echo "== soak run $run/$runs (seed $((seed + run - 1)))"
    # shellcheck disable=SC2086
    if ! "$PYTHON" scripts/soak/soak_driver.py --profile soak --fresh --seed "$((seed + run - 1))" \
        --db "smc_soak_$$_$run" ${SOAK_ARGS:-} | tee -a "$out"; then
        status=1
    fi
done
"$PYTHON" - "$out" <<'EOF'
import json, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
keys = ("kills", "messages_checked", "sms_received", "duplicates", "lost", "unexpected",
        "unhandled_worker_errors", "serialization_or_deadlock_errors")
total = {key: sum(run.get(key, 0) for run in runs) for key in keys}
faults = sum(sum(run.get("faults_injected", {}).values()) for run in runs)
ok = sum(1 for run in runs if run.get("ok"))
print(f"soak: {len(runs)} runs, {ok} ok; kills {total['kills']}, faults injected {faults}, "
      f"messages checked {total['messages_checked']}, SMS received {total['sms_received']}, "
      f"duplicates {total['duplicates']}, lost {total['lost']}, unexpected {total['unexpected']}, "
      f"worker errors {total['unhandled_worker_errors']}")
EOF
exit $status
