#!/usr/bin/env bash
# Prepare everything `make run`, `make test` and `make bench` need, idempotently:
#   1. find an Odoo 17.0 source tree (ODOO_PATH, an importable `odoo`, or a
#      conventional location) and refuse any other major version;
#   2. a virtual environment with Odoo's requirements + our own (requirements-dev.txt);
#   3. a running PostgreSQL with a role for the current OS user;
#   4. Debian's chromium for the browser tours (only with --with-browser).
# It prints `KEY=value` lines on stdout (ODOO_PATH, PYTHON) for the Makefile;
# everything else goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
with_browser=0
[[ "${1:-}" == "--with-browser" ]] && with_browser=1

say() { echo "[bootstrap] $*" >&2; }
die() { echo "[bootstrap] ERROR: $*" >&2; exit 1; }

# --- 1. Odoo ---------------------------------------------------------------
odoo_major() { # $1: tree root -> major version from odoo/release.py
    sed -n "s/^version_info = (\([0-9]*\),.*/\1/p" "$1/odoo/release.py" 2>/dev/null | head -1
}
find_odoo() {
    if [[ -n "${ODOO_PATH:-}" ]]; then
        [[ -f "$ODOO_PATH/odoo/release.py" ]] ||
            die "ODOO_PATH=$ODOO_PATH is not an Odoo source tree (no odoo/release.py in it); fix: point ODOO_PATH to an Odoo 17.0 checkout."
        echo "$ODOO_PATH"; return
    fi
    local importable
    importable="$(python3 -c 'import odoo, os; print(os.path.dirname(os.path.dirname(odoo.__file__)))' 2>/dev/null || true)"
    if [[ -n "$importable" && -f "$importable/odoo/release.py" ]]; then
        echo "$importable"; return
    fi
    local candidate
    for candidate in "$here/../odoo" "$here/../odoo-17.0" "$here/../odoo17" \
        /opt/odoo17 /opt/odoo-17.0 /opt/odoo /opt/odoo/odoo /usr/lib/python3/dist-packages \
        "$HOME/odoo" "$HOME/odoo-17.0" "$HOME/src/odoo"; do
        if [[ -f "$candidate/odoo/release.py" ]]; then
            (cd "$candidate" && pwd); return
        fi
    done
    die "no Odoo 17.0 source tree found (looked at \$ODOO_PATH, an importable odoo, ../odoo, ../odoo-17.0, ../odoo17, /opt/odoo17, /opt/odoo-17.0, /opt/odoo, ~/odoo, ~/odoo-17.0); fix: git clone --depth 1 -b 17.0 https://github.com/odoo/odoo /opt/odoo17, or ODOO_PATH=/path/to/odoo make ..."
}
ODOO_PATH="$(find_odoo)"
major="$(odoo_major "$ODOO_PATH")"
[[ "$major" == "17" ]] ||
    die "the Odoo tree at $ODOO_PATH is version ${major:-unknown}, this addon needs Odoo 17.0; fix: ODOO_PATH=/path/to/odoo-17.0 make ..."
[[ -f "$ODOO_PATH/odoo-bin" && -d "$ODOO_PATH/addons/mail" ]] ||
    die "the Odoo tree at $ODOO_PATH has no odoo-bin or no addons/ folder; fix: use a full Odoo 17.0 source tree (git clone -b 17.0 ...)."
say "Odoo 17.0 at $ODOO_PATH"

# --- 2. Python environment -------------------------------------------------
apt_updated=0
apt_install() {
    command -v apt-get >/dev/null || die "need the Debian packages '$*' and apt-get is not available; fix: install them with your system's package manager."
    [[ $(id -u) == 0 ]] || die "need the Debian packages '$*'; run as root or install them: sudo apt-get install $*"
    if [[ $apt_updated == 0 ]]; then
        apt-get update -qq >&2 || die "apt-get update failed (see above); fix the package sources, then run again."
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2 ||
        die "could not install the Debian packages '$*' (see above); fix: apt-get install $*"
}
command -v pg_config >/dev/null || apt_install libpq-dev
py="${PYTHON_BIN:-python3}"
command -v "$py" >/dev/null || die "no Python interpreter '$py'; fix: install Python 3.10 to 3.12, or PYTHON_BIN=/path/to/python3 make ..."
pyver="$($py -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
case "$pyver" in 3.10|3.11|3.12) ;; *) die "Odoo 17 needs Python 3.10 to 3.12 and $py is $pyver; fix: PYTHON_BIN=/path/to/python3.11 make ..." ;; esac
# The venv lives outside the clone so that fresh clones (CI) reuse it; its key
# changes whenever a requirement or the Odoo tree changes.
req_hash="$(cat "$ODOO_PATH/requirements.txt" "$here/requirements-dev.txt" <(echo "$pyver $ODOO_PATH") | sha1sum | cut -c1-12)"
VENV="${SMS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/sms_marketing_custom/venv-$req_hash}"
# pytest_odoo imports odoo at import time, so the check runs with Odoo on the path.
check_venv() {
    PYTHONPATH="$ODOO_PATH" "$VENV/bin/python" -c \
        "import phonenumbers, psycopg2, lxml, pkg_resources, werkzeug, websocket, odoo, pytest_odoo" 2>&1 >/dev/null
}
if [[ ! -f "$VENV/.ready" ]]; then
    say "creating the virtual environment $VENV (a few minutes the first time)"
    rm -rf "$VENV"
    venv_error="$($py -m venv "$VENV" 2>&1)" ||
        die "$py cannot create a virtual environment in $VENV ($(tail -1 <<<"$venv_error")); fix: apt-get install python3-venv, or set SMS_VENV to a writable folder."
    # python-ldap is only for Odoo's auth_ldap and needs LDAP headers: left out.
    grep -v '^python-ldap' "$ODOO_PATH/requirements.txt" > "$VENV/odoo-requirements.txt"
    # pip's "Location ... is ignored" lines come from this machine's extra local indexes: noise.
    pip_quiet() { "$VENV/bin/pip" install -q "$@" 2>&1 | grep -v "is ignored: it is neither" >&2 || true; }
    # setuptools 81+ has no pkg_resources, which Odoo 17 imports.
    pip_quiet --upgrade pip wheel "setuptools<81"
    pip_quiet -r "$VENV/odoo-requirements.txt" -r "$here/requirements-dev.txt"
    import_error="$(check_venv)" ||
        die "the virtual environment $VENV is incomplete: $(tail -1 <<<"$import_error"). Fix the cause in pip's output above, then run again."
    touch "$VENV/.ready"
fi
say "Python environment $VENV"

# --- 3. PostgreSQL ---------------------------------------------------------
if ! command -v pg_lsclusters >/dev/null && ! command -v pg_ctl >/dev/null; then
    say "PostgreSQL is not installed: installing Debian's postgresql"
    apt_install postgresql
fi
if ! pg_isready -q 2>/dev/null; then
    if command -v pg_lsclusters >/dev/null; then
        cluster="$(pg_lsclusters -h | awk 'NR==1 {print $1" "$2}')"
        [[ -n "$cluster" ]] || { say "no PostgreSQL cluster: creating one"; pg_createcluster 15 main >&2; cluster="15 main"; }
        say "starting PostgreSQL cluster $cluster"
        # shellcheck disable=SC2086
        pg_ctlcluster $cluster start >&2 || die "PostgreSQL cluster $cluster did not start; fix what /var/log/postgresql/ says, then run again."
    else
        die "PostgreSQL is installed but not running, and this is no Debian cluster setup; fix: start it (pg_ctl start), then run again."
    fi
    for _ in $(seq 1 30); do pg_isready -q && break; sleep 0.5; done
    pg_isready -q || die "PostgreSQL does not accept connections on its default socket; fix: check it with pg_isready and its log."
fi
db_user="$(id -un)"
if [[ $(id -u) == 0 ]] || command -v sudo >/dev/null; then
    as_pg=(su postgres -c)
    [[ $(id -u) == 0 ]] || as_pg=(sudo -u postgres sh -c)
    if ! "${as_pg[@]}" "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='$db_user'\"" | grep -q 1; then
        say "creating PostgreSQL role $db_user"
        "${as_pg[@]}" "createuser --createdb --superuser $db_user" >&2 ||
            die "could not create the PostgreSQL role $db_user; fix: sudo -u postgres createuser --superuser $db_user"
    fi
fi
say "PostgreSQL ready, role $db_user"

# --- 4. Chromium, for the browser tours ------------------------------------
if [[ $with_browser == 1 ]] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null \
    && ! command -v google-chrome >/dev/null; then
    say "installing Debian's chromium for the browser tours"
    apt_install chromium
fi

echo "ODOO_PATH=$ODOO_PATH"
echo "PYTHON=$VENV/bin/python"
