"""17.0.1.7.0: the English labels of the module's fields and choices, as they are before the upgrade.

Odoo's upgrade writes a renamed label's new English text and keeps the translations it had, of the
former text; the .po files are then loaded without overwriting. A renamed label would keep its
former translation ("Paese del numero" for the field now called "Number Country Code", beside the
new field of that name; a plural kept on a row now labelled in the singular). The labels are kept
here; the post-migration script drops the translations of those whose English changed, and the
release's .po files fill them in (see post-migrate.py).
"""

from odoo.tools import SQL
from odoo.tools.sql import table_exists

SNAPSHOT = "sms_marketing_labels_before_upgrade"


def migrate(cr, version):
    if not version or not table_exists(cr, "ir_model_fields"):
        return
    snapshot = SQL.identifier(SNAPSHOT)
    cr.execute(SQL("DROP TABLE IF EXISTS %s", snapshot))
    cr.execute(
        SQL(
            """CREATE TABLE %s AS
               SELECT 'field' AS kind, f.id AS res_id, f.field_description->>'en_US' AS en_us
                 FROM ir_model_fields f
                 JOIN ir_model_data d ON d.model = 'ir.model.fields' AND d.res_id = f.id
                WHERE d.module = 'sms_marketing_custom'
                UNION ALL
               SELECT 'selection', s.id, s.name->>'en_US'
                 FROM ir_model_fields_selection s
                 JOIN ir_model_data d ON d.model = 'ir.model.fields.selection' AND d.res_id = s.id
                WHERE d.module = 'sms_marketing_custom'""",
            snapshot,
        )
    )
