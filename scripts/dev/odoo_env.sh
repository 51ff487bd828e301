# Sourced by the scripts: runs the bootstrap and defines how to call Odoo.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
boot_out="$("$ROOT/scripts/dev/bootstrap.sh" "$@")" || exit 1
eval "$boot_out"
export ODOO_PATH PYTHON
export PYTHONPATH="$ODOO_PATH${PYTHONPATH:+:$PYTHONPATH}"
ADDONS_PATH="$ODOO_PATH/addons,$ODOO_PATH/odoo/addons,$ROOT"
# Odoo's config file, regenerated each time so that it follows ODOO_PATH.
ODOO_RC="${ODOO_RC:-$ROOT/.odoo/odoo.conf}"
mkdir -p "$(dirname "$ODOO_RC")"
cat > "$ODOO_RC" <<CONF
[options]
addons_path = $ADDONS_PATH
data_dir = $ROOT/.odoo/data
admin_passwd = admin
db_host = False
db_port = False
list_db = True
CONF
export ODOO_RC
odoo_bin() { "$PYTHON" "$ODOO_PATH/odoo-bin" -c "$ODOO_RC" "$@"; }
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
