"""17.0.1.7.0: the labels renamed by this release take their translations from its .po files.

For each field and choice of the module whose English label changed in the upgrade (against the
snapshot of pre-migrate.py), the translations of the former label are dropped. Odoo loads the
module's .po files after this script (``_update_translations``, which fills what is missing), so
every installed language gets the new label's translation. Labels that did not change keep theirs,
an administrator's own wording included.
"""

SNAPSHOT = "sms_marketing_labels_before_upgrade"


def migrate(cr, version):
    if not version:
        return
    cr.execute("SELECT to_regclass(%s)", [SNAPSHOT])
    if not cr.fetchone()[0]:
        return
    cr.execute(
        f"""UPDATE ir_model_fields f
               SET field_description = jsonb_build_object('en_US', f.field_description->>'en_US')
              FROM {SNAPSHOT} b
             WHERE b.kind = 'field' AND b.res_id = f.id
               AND b.en_us IS DISTINCT FROM f.field_description->>'en_US'"""
    )
    cr.execute(
        f"""UPDATE ir_model_fields_selection s
               SET name = jsonb_build_object('en_US', s.name->>'en_US')
              FROM {SNAPSHOT} b
             WHERE b.kind = 'selection' AND b.res_id = s.id
               AND b.en_us IS DISTINCT FROM s.name->>'en_US'"""
    )
    cr.execute(f"DROP TABLE {SNAPSHOT}")
