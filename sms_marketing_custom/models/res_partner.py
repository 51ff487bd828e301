import logging

from odoo import api, fields, models
from odoo.tools import SQL, column_exists, create_column

from ..tools import phone as phone_tools

_logger = logging.getLogger(__name__)

# partners normalised per statement when the columns are first filled
INIT_BATCH_SIZE = 10_000


class ResPartner(models.Model):
    """Partners as SMS recipients: a stored, indexed E.164 number and a searchable blacklist flag.

    ``sms_marketing_number`` is read from the mobile, else the phone, with the
    partner's country (else only international numbers are understood). At
    install the columns are created and filled by :meth:`_auto_init` itself,
    in batches and only for partners that have a number, instead of letting the
    ORM recompute the field record by record on a table that may be huge.
    """

    _name = "res.partner"
    _inherit = ["res.partner", "sms.marketing.engagement.mixin"]

    sms_marketing_number = fields.Char(
        string="SMS Number",
        compute="_compute_sms_marketing_number",
        precompute=True,
        store=True,
        index="btree_not_null",
        readonly=True,
        help="Mobile (else phone) in E.164 form, empty when missing or invalid; used by SMS marketing.",
    )
    sms_marketing_country_code = fields.Char(
        string="SMS Number Country", compute="_compute_sms_marketing_number", precompute=True, store=True, readonly=True
    )
    # mail's email blacklist flag is also labelled "Blacklist": rename it so the
    # domain editor's "Blacklist" is unambiguously the SMS one.
    is_blacklisted = fields.Boolean(string="Email Blacklist")
    blacklisted = fields.Boolean(
        string="Blacklist",
        compute="_compute_sms_marketing_blacklisted",
        search="_search_sms_marketing_blacklisted",
        help="The SMS number is in the SMS marketing blacklist: it receives no marketing SMS.",
    )

    # ------------------------------------------------------------------ computes
    @api.depends("mobile", "phone", "country_id")
    def _compute_sms_marketing_number(self):
        for partner in self:
            result = self._sms_marketing_normalize(partner.mobile, partner.phone, partner.country_id.code)
            partner.sms_marketing_number = result.e164
            partner.sms_marketing_country_code = result.region if result.e164 else False

    @api.depends("sms_marketing_number")
    def _compute_sms_marketing_blacklisted(self):
        self.env["sms.marketing.blacklist"]._set_blacklisted_flag(self, "sms_marketing_number")

    def _search_sms_marketing_blacklisted(self, operator, value):
        return self.env["sms.marketing.blacklist"]._get_blacklisted_domain("sms_marketing_number", operator, value)

    # ------------------------------------------------------------------ install
    def _auto_init(self):
        """Create and fill the number columns set-wise (see the class docstring)."""
        cr = self.env.cr
        fill = not column_exists(cr, self._table, "sms_marketing_number")
        if fill:
            create_column(cr, self._table, "sms_marketing_number", "varchar")
            create_column(cr, self._table, "sms_marketing_country_code", "varchar")
        result = super()._auto_init()
        if fill:
            self._sms_marketing_fill_numbers()
        return result

    def _sms_marketing_fill_numbers(self):
        """Normalise the numbers of all partners that have one, in batches of plain SQL."""
        cr = self.env.cr
        last_id, done = 0, 0
        while True:
            cr.execute(
                SQL(
                    """
                    SELECT p.id, p.mobile, p.phone, c.code
                      FROM res_partner p
                 LEFT JOIN res_country c ON c.id = p.country_id
                     WHERE p.id > %s AND (COALESCE(p.mobile, '') != '' OR COALESCE(p.phone, '') != '')
                  ORDER BY p.id
                     LIMIT %s
                    """,
                    last_id,
                    INIT_BATCH_SIZE,
                )
            )
            rows = cr.fetchall()
            if not rows:
                break
            last_id = rows[-1][0]
            done += len(rows)
            values = []
            for partner_id, mobile, phone, country_code in rows:
                result = self._sms_marketing_normalize(mobile, phone, country_code)
                if result.e164:
                    values.append((partner_id, result.e164, result.region))
            if values:
                cr.execute(
                    SQL(
                        """
                        UPDATE res_partner p
                           SET sms_marketing_number = v.number, sms_marketing_country_code = v.country
                          FROM (SELECT unnest(%s::int[]) AS id, unnest(%s::varchar[]) AS number,
                                       unnest(%s::varchar[]) AS country) v
                         WHERE p.id = v.id
                        """,
                        [value[0] for value in values],
                        [value[1] for value in values],
                        [value[2] for value in values],
                    )
                )
        _logger.info("SMS marketing: normalised the numbers of %s partners", done)

    # ------------------------------------------------------------------ tools
    @api.model
    def _sms_marketing_normalize(self, mobile, phone, country_code):
        """Result of tools/phone.normalize for the mobile, else the phone (the first one that is valid)."""
        result = None
        for raw in (mobile, phone):
            if raw and raw.strip():
                result = phone_tools.normalize(raw, country_code)
                if result.e164:
                    return result
        return result or phone_tools.normalize("", country_code)

    @api.model
    def _sms_marketing_raw_phone_sql(self, alias):
        """The number as typed that ``sms_marketing_number`` was read from (mobile, else phone)."""
        return SQL("COALESCE(NULLIF(%s, ''), %s)", SQL.identifier(alias, "mobile"), SQL.identifier(alias, "phone"))
