#!/usr/bin/env bash
# `make simulator`: the SMS gateway simulator on 127.0.0.1:${SIM_PORT:-8070} (stdlib only).
# Extra options: SIM_ARGS="--balance 50 --price US=0.5", see --help.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck disable=SC2086
exec python3 "$here/standin.py" gateway --port "${SIM_PORT:-8070}" ${SIM_ARGS:-} "$@"
