"""17.0.1.7.0: the labels renamed by this release take their translations from its .po files.

For each field and choice of the module whose English label changed in the upgrade (against the
snapshot of pre-migrate.py), the translations of the former label are dropped. Odoo loads the
module's .po files after this script (``_update_translations``, which fills what is missing), so
every installed language gets the new label's translation. Labels that did not change keep theirs,
an administrator's own wording included.
"""

from odoo.tools import SQL

SNAPSHOT = "sms_marketing_labels_before_upgrade"
# the snapshot's kinds: (table, translated label column)
LABELS = {"field": ("ir_model_fields", "field_description"), "selection": ("ir_model_fields_selection", "name")}


def migrate(cr, version):
    if not version:
        return
    cr.execute("SELECT to_regclass(%s)", [SNAPSHOT])
    if not cr.fetchone()[0]:
        return
    for kind, (table, column) in LABELS.items():
        cr.execute(
            SQL(
                """UPDATE %(table)s t SET %(column)s = jsonb_build_object('en_US', t.%(column)s->>'en_US')
                     FROM %(snapshot)s b
                    WHERE b.kind = %(kind)s AND b.res_id = t.id AND b.en_us IS DISTINCT FROM t.%(column)s->>'en_US'""",
                table=SQL.identifier(table),
                column=SQL.identifier(column),
                snapshot=SQL.identifier(SNAPSHOT),
                kind=kind,
            )
        )
    cr.execute(SQL("DROP TABLE %s", SQL.identifier(SNAPSHOT)))
