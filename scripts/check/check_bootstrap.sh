#!/usr/bin/env bash
# What a new machine meets when something is missing: each failure of the
# bootstrap must stop it with exactly one line that says what is missing and
# how to fix it. Each case runs the real scripts/dev/bootstrap.sh with one thing
# taken away; nothing is installed or changed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0

expect_one_line() { # $1: case name, $2: text the error must contain, then: env assignments for bootstrap
    local name="$1" needle="$2"
    shift 2
    local status=0
    env "$@" bash "$here/scripts/dev/bootstrap.sh" >"$work/out" 2>"$work/err" </dev/null || status=$?
    local errors
    errors="$(grep -c '^\[bootstrap\] ERROR: ' "$work/err" || true)"
    if [[ $status == 0 ]]; then
        echo "bootstrap: FAILED $name: the bootstrap succeeded"; failures=$((failures + 1))
    elif [[ $errors != 1 ]] || [[ "$(grep '^\[bootstrap\] ERROR: ' "$work/err")" != *"$needle"* ]] ||
        [[ "$(grep '^\[bootstrap\] ERROR: ' "$work/err")" != *fix* ]] ||
        [[ -n "$(grep -v '^\[bootstrap\] ' "$work/err" || true)" ]]; then
        echo "bootstrap: FAILED $name: expected one error line with '$needle' and its fix, got:"
        sed 's/^/    /' "$work/err"
        failures=$((failures + 1))
    else
        echo "bootstrap: ok $name: $(grep '^\[bootstrap\] ERROR: ' "$work/err" | cut -c1-110)..."
    fi
}

# an ODOO_PATH that is no Odoo tree
expect_one_line "ODOO_PATH not a tree" "is not an Odoo source tree" ODOO_PATH="$work/nothing"
# an Odoo tree of another major version
mkdir -p "$work/odoo16/odoo"
echo "version_info = (16, 0, 0, 'final', 0, '')" >"$work/odoo16/odoo/release.py"
expect_one_line "Odoo 16 tree" "is version 16" ODOO_PATH="$work/odoo16"
# a tree without its addons
mkdir -p "$work/odoo17bare/odoo"
echo "version_info = (17, 0, 0, 'final', 0, '')" >"$work/odoo17bare/odoo/release.py"
expect_one_line "Odoo tree without addons" "no odoo-bin or no addons" ODOO_PATH="$work/odoo17bare"
# no such Python
expect_one_line "missing Python" "no Python interpreter" PYTHON_BIN="$work/no-python"
# a Python of the wrong version
printf '#!/bin/sh\necho 3.9\n' >"$work/python39"
chmod +x "$work/python39"
expect_one_line "Python 3.9" "needs Python 3.10 to 3.12" PYTHON_BIN="$work/python39"
# a venv folder that cannot be created
expect_one_line "unwritable virtual environment" "cannot create a virtual environment" SMS_VENV=/proc/sms-venv
# no Odoo anywhere: a copy of the scripts, with /opt hidden in a private mount namespace (root only)
if [[ $(id -u) == 0 ]] && command -v unshare >/dev/null; then
    mkdir -p "$work/repo"
    cp -r "$here/scripts" "$work/repo/"
    status=0
    env -u ODOO_PATH -u PYTHONPATH unshare -m sh -c "mount -t tmpfs none /opt && bash '$work/repo/scripts/dev/bootstrap.sh'" \
        >"$work/out" 2>"$work/err" </dev/null || status=$?
    if [[ $status != 0 ]] && [[ "$(grep -c '^\[bootstrap\] ERROR: no Odoo 17.0 source tree found.*fix' "$work/err")" == 1 ]] &&
        [[ "$(grep -c '' "$work/err")" == 1 ]]; then
        echo "bootstrap: ok no Odoo tree: $(cut -c1-110 "$work/err")..."
    else
        echo "bootstrap: FAILED no Odoo tree:"; sed 's/^/    /' "$work/err"; failures=$((failures + 1))
    fi
else
    echo "bootstrap: FAILED no Odoo tree: this check needs root and unshare to hide /opt"; failures=$((failures + 1))
fi
[[ $failures == 0 ]] || exit 1
echo "bootstrap: every failure explained in one line"
