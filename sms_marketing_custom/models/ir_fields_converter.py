from odoo import api, models


class IrFieldsConverter(models.AbstractModel):
    """Faster import of mailing-list contacts: their country column is resolved once per distinct value.

    Odoo's import runs a ``name_search`` for every row of a many2one column;
    a contact file of 100,000 rows has a handful of distinct countries. The
    result is kept in the ``import_cache`` that ``load()`` provides for the
    duration of one import, and only for the contacts' country (a stable
    reference table, never created during the import).
    """

    _inherit = "ir.fields.converter"

    @api.model
    def db_id_for(self, model, field, subfield, value):
        cache = self.env.context.get("import_cache")
        if (
            cache is None
            or subfield is not None
            or model._name != "sms.marketing.contact"
            or field.comodel_name != "res.country"
        ):
            return super().db_id_for(model, field, subfield, value)
        key = ("sms_marketing_country", value)
        if key not in cache:
            cache[key] = super().db_id_for(model, field, subfield, value)
        record_id, field_type, warnings = cache[key]
        return record_id, field_type, list(warnings)
