from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..tools import domain_literal
from ..tools import phone as phone_tools
from . import sms_marketing_engagement as engagement
from .ir_model import ENABLED_MODELS_KEY

# the model of mailing-list contacts, the default recipients
CONTACT_MODEL = "sms.marketing.contact"
# rows normalised per batch when filling the number cache of a model without a stored E.164 field
CACHE_BATCH_SIZE = 5_000


class SmsMarketingRecipientModel(models.Model):
    """A model whose records can receive SMS mailings ("SMS-enabled model").

    Mailing-list contacts (the default) and partners come with the module: they
    store their E.164 number in an indexed column (``number_field``). Any other
    model with a stored phone field can be enabled by an administrator, who
    picks that field and a default recipient filter; its numbers are then
    normalised once per distinct (number, country) into ``sms.marketing.number``
    and joined in SQL, never looped over record by record.
    """

    _name = "sms.marketing.recipient.model"
    _description = "SMS-enabled Model"
    _order = "sequence, id"

    sequence = fields.Integer(default=10)
    name = fields.Char(related="model_id.name", readonly=True)
    model_id = fields.Many2one(
        "ir.model",
        required=True,
        ondelete="cascade",
        domain=[("transient", "=", False)],
    )
    model = fields.Char(related="model_id.model", string="Technical Name", store=True, readonly=True)
    phone_field_id = fields.Many2one(
        "ir.model.fields",
        required=True,
        ondelete="cascade",
        domain="[('model_id', '=', model_id), ('ttype', '=', 'char'), ('store', '=', True)]",
        help="The field that holds the phone number of the records, as typed.",
    )
    number_field = fields.Char(
        string="Normalised Number Field",
        readonly=True,
        help="Technical: a stored, indexed field that already holds the E.164 number (built-in models).",
    )
    country_code_field = fields.Char(string="Number Country Field", readonly=True)
    domain = fields.Char(
        string="Default Recipient Filter",
        default="[]",
        help="The filter proposed on a new mailing to this model.",
    )
    active = fields.Boolean(default=True)

    _sql_constraints = [("model_unique", "unique(model_id)", "This model is already SMS-enabled.")]

    @api.constrains("model_id", "phone_field_id")
    def _check_phone_field(self):
        # a related constraint between two many2one values: SQL can't express it
        for config in self:
            if config.phone_field_id.model_id != config.model_id:
                raise ValidationError(_("The phone field must be a field of %(model)s.", model=config.model_id.name))

    @api.constrains("domain", "model_id")
    def _check_domain(self):
        for config in self:
            domain = config._get_default_domain()  # a filter that is not a literal domain says why
            try:
                self.env[config.model].sudo().search_count(domain, limit=1)
            except Exception as error:
                raise ValidationError(
                    _(
                        "The default recipient filter is not valid for %(model)s: %(error)s",
                        model=config.name,
                        error=error,
                    )
                ) from error

    # ------------------------------------------------------------------ engagement filters
    @api.model_create_multi
    def create(self, vals_list):
        configs = super().create(vals_list)
        self._setup_engagement_fields(set(configs.mapped("model")))
        self.env["sms.marketing.journey.add"]._sync_bindings()
        return configs

    def write(self, vals):
        before = set(self.mapped("model"))
        result = super().write(vals)
        if {"model_id", "active"} & set(vals):
            self._setup_engagement_fields(before | set(self.mapped("model")))
            self.env["sms.marketing.journey.add"]._sync_bindings()
        return result

    def unlink(self):
        before = set(self.mapped("model"))
        result = super().unlink()
        self._setup_engagement_fields(before)
        self.env["sms.marketing.journey.add"]._sync_bindings()
        return result

    @api.model
    def _setup_engagement_fields(self, model_names):
        """Add (remove) the engagement filters of the models enabled (disabled) here, as Odoo does for a
        custom field: set the registry up again, reflect the fields, and tell the other workers."""
        changed = [
            name
            for name in model_names
            if name in self.env and not engagement.inherits_engagement_mixin(self.pool, name)
        ]
        if not changed:
            return  # contacts and partners inherit the filters
        cr = self.env.cr
        self.env.flush_all()
        cr.cache.pop(ENABLED_MODELS_KEY, None)
        self.pool.setup_models(cr)
        enabled = engagement.get_enabled_models(cr)
        engagement.remove_engagement_field_rows(cr, set(changed) - enabled)
        self.pool.init_models(cr, [name for name in changed if name in enabled], dict(self.env.context))
        self.pool.registry_invalidated = True

    # ------------------------------------------------------------------ API
    @api.model
    def _get_for_model(self, model_name):
        """The active configuration of ``model_name`` (empty recordset when the model is not SMS-enabled)."""
        # sudo: the configuration is technical; reading it grants nothing on the records
        return self.sudo().search([("model", "=", model_name)], limit=1)

    def _get_default_domain(self):
        self.ensure_one()
        return self._read_filter(self.domain)

    @api.model
    def _read_filter(self, text, user=None):
        """The recipient filter ``text`` (a domain stored as text) as a list, or a ValidationError saying why
        it is not one.

        The text is data, never code: ``tools.domain_literal`` reads it as a literal domain, with the names
        of the web client's domain editor (``uid``, ``user.id``, ``context_today()``...) replaced by plain
        values of ``user`` (whose filter it is: a mailing's sender, also when the cron reads it as
        superuser; by default the current user). No record reaches the reading.
        """
        user = (user or self.env.user).sudo()  # sudo: the user's own ids and time zone, whoever reads
        names = domain_literal.FilterNames(
            uid=user.id,
            company_id=user.company_id.id or False,
            partner_id=user.partner_id.id or False,
            tz=user.tz or "UTC",
        )
        try:
            return domain_literal.parse_domain(text, names)
        except domain_literal.FilterError as error:
            raise ValidationError(self._get_filter_error_message(error)) from error

    @api.model
    def _get_filter_error_message(self, error):
        """What a user reads when their filter is not a literal domain (``domain_literal.FilterError``)."""
        text = error.snippet
        if error.reason == domain_literal.REASON_TOO_LONG:
            return _("The recipient filter is too long: at most %(limit)s characters.", limit=error.limit)
        if error.reason == domain_literal.REASON_TOO_DEEP:
            return _("The recipient filter is nested too deeply, near “%(text)s”.", text=text)
        if error.reason == domain_literal.REASON_MISSING_OPERAND:
            return _("“%(text)s” in the recipient filter has fewer conditions after it than it combines.", text=text)
        if error.reason == domain_literal.REASON_NOT_A_CONDITION:
            return _(
                "“%(text)s” is not a condition of the recipient filter: a condition is (field, operator, value), "
                "and conditions are combined with '&', '|' and '!'.",
                text=text,
            )
        if error.reason == domain_literal.REASON_NOT_ALLOWED:
            return _(
                "“%(text)s” is not allowed in a recipient filter: a value is a constant, a list of constants, uid, "
                "user.id, user.company_id.id, user.partner_id.id, or a date computed with context_today(), "
                "datetime and relativedelta.",
                text=text,
            )
        if error.reason == domain_literal.REASON_BAD_DATE:
            return _("“%(text)s” in the recipient filter does not give a valid date.", text=text)
        # not readable, or not a list
        return _(
            "A recipient filter is a list of conditions, such as [('name', '=', 'Alice')], not “%(text)s”.",
            text=text,
        )

    def _get_numbers_query(self, domain, audience_env):
        """SQL selecting (res_id, number, raw_phone, country_code) of the records matching ``domain``.

        The records are searched in ``audience_env`` (the sender's): the model's
        access rights and record rules apply in the SQL itself, and archived
        records are left out, as the ORM's search does.
        """
        self.ensure_one()
        query = audience_env[self.model].with_context(active_test=True)._search(domain)
        records = self.env[self.model].sudo()  # sudo: flushing and reading column names only
        alias = query.table
        raw_sql = self._get_raw_phone_sql(records, alias)
        if self.number_field:
            records.flush_model([self.number_field, self.country_code_field])
            return query.select(
                SQL("%s AS res_id", SQL.identifier(alias, "id")),
                SQL("%s AS number", SQL.identifier(alias, self.number_field)),
                SQL("%s AS raw_phone", raw_sql),
                SQL("%s AS country_code", SQL.identifier(alias, self.country_code_field)),
            )
        records.flush_model([self.phone_field_id.name])
        region_sql = self._get_region_sql(records, query, alias)
        inner = query.select(
            SQL("%s AS res_id", SQL.identifier(alias, "id")),
            SQL("%s AS raw_phone", raw_sql),
            SQL("COALESCE(%s, '') AS region", region_sql),
        )
        self.env["sms.marketing.number"]._fill(inner)
        return SQL(
            """
            SELECT r.res_id, n.number, r.raw_phone, n.country_code
              FROM (%s) r
         LEFT JOIN sms_marketing_number n ON n.raw = r.raw_phone AND n.region = r.region
            """,
            inner,
        )

    def _get_raw_phone_sql(self, records, alias):
        if hasattr(records, "_sms_marketing_raw_phone_sql"):
            return records._sms_marketing_raw_phone_sql(alias)
        return SQL.identifier(alias, self.phone_field_id.name)

    def _get_region_sql(self, records, query, alias):
        """Country used to read national numbers: the record's country, else its company's."""
        regions = []
        country_field = records._fields.get("country_id")
        if country_field and country_field.store and country_field.comodel_name == "res.country":
            country_alias = query.left_join(alias, "country_id", "res_country", "id", "country_id")
            regions.append(SQL.identifier(country_alias, "code"))
        company_field = records._fields.get("company_id")
        if company_field and company_field.store and company_field.comodel_name == "res.company":
            company_alias = query.left_join(alias, "company_id", "res_company", "id", "company_id")
            partner_alias = query.left_join(company_alias, "partner_id", "res_partner", "id", "partner_id")
            company_country_alias = query.left_join(partner_alias, "country_id", "res_country", "id", "country_id")
            regions.append(SQL.identifier(company_country_alias, "code"))
        if not regions:
            return SQL("NULL")
        return SQL("COALESCE(%s)", SQL(", ").join(regions))


class SmsMarketingNumber(models.Model):
    """Normalisation cache of the numbers of SMS-enabled models without a stored E.164 field.

    One row per distinct (raw text, country); filled set-wise before a query
    needs it, so selecting an audience is one SQL join.
    """

    _name = "sms.marketing.number"
    _description = "SMS Number Normalisation"
    _log_access = False

    raw = fields.Char(required=True)
    region = fields.Char(required=True, default="")
    number = fields.Char(help="E.164, empty when invalid.")
    country_code = fields.Char()
    error = fields.Char()

    _sql_constraints = [("raw_region_unique", "unique(raw, region)", "A number is normalised once per country.")]

    @api.model
    def _fill(self, rows_sql):
        """Normalise the (raw_phone, region) pairs of ``rows_sql`` that are not cached yet."""
        cr = self.env.cr
        cr.execute(
            SQL(
                """
                SELECT DISTINCT r.raw_phone, r.region
                  FROM (%s) r
                 WHERE COALESCE(r.raw_phone, '') != ''
                   AND NOT EXISTS (SELECT 1 FROM sms_marketing_number n
                                    WHERE n.raw = r.raw_phone AND n.region = r.region)
                """,
                rows_sql,
            )
        )
        pairs = cr.fetchall()
        for start in range(0, len(pairs), CACHE_BATCH_SIZE):
            batch = pairs[start : start + CACHE_BATCH_SIZE]
            results = [phone_tools.normalize(raw, region or None) for raw, region in batch]
            cr.execute(
                SQL(
                    """
                    INSERT INTO sms_marketing_number (raw, region, number, country_code, error)
                    SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[], %s::varchar[])
                    ON CONFLICT (raw, region) DO NOTHING
                    """,
                    [raw for raw, _region in batch],
                    [region for _raw, region in batch],
                    [result.e164 for result in results],
                    [result.region if result.e164 else None for result in results],
                    [result.error for result in results],
                )
            )


class SmsMarketingRecipientChoiceMixin(models.AbstractModel):
    """What a mailing and a template are written for: one SMS-enabled model, offered as a choice
    (Mailing List first, then the other enabled models by name) and as the sample recipient's models."""

    _name = "sms.marketing.recipient.choice.mixin"
    _description = "SMS Recipients Model Choice"

    recipient_model_id = fields.Many2one(
        "ir.model",
        string="Recipients",
        ondelete="cascade",
        required=True,
        domain=[("is_sms_marketing_enabled", "=", True)],
        default=lambda self: self.env["ir.model"]._get_id(CONTACT_MODEL),
    )
    recipient_model = fields.Char(related="recipient_model_id.model", string="Recipients Model")
    recipient_choice = fields.Selection(
        selection="_selection_recipient_choice",
        string="Send To",
        compute="_compute_recipient_choice",
        inverse="_inverse_recipient_choice",
    )

    @api.model
    def _selection_recipient_choice(self):
        """Mailing List first (the contacts of the chosen lists), then the other SMS-enabled models by name."""
        # sudo: which models are enabled is not secret, ir.model is readable by managers only
        enabled = self.env["ir.model"].sudo().search([("is_sms_marketing_enabled", "=", True)])
        others = sorted((model.model, model.name) for model in enabled if model.model != CONTACT_MODEL)
        return [(CONTACT_MODEL, _("Mailing List")), *sorted(others, key=lambda choice: choice[1])]

    @api.model
    def _selection_preview_models(self):
        return self._selection_recipient_choice()

    @api.depends("recipient_model_id")
    def _compute_recipient_choice(self):
        for record in self:
            record.recipient_choice = record.recipient_model or False

    def _inverse_recipient_choice(self):
        for record in self.filtered("recipient_choice"):
            if record.recipient_choice != record.recipient_model:
                record.recipient_model_id = self.env["ir.model"]._get_id(record.recipient_choice)

    def _get_preview_res_id(self):
        """The id of the preview (sample) recipient ``preview_ref``, if it is a record of the recipients
        model that the current user may read, else None (``preview_ref`` is typed by the client: its
        language and fields are read for the preview)."""
        self.ensure_one()
        record = self.preview_ref
        if not record or record._name != (self.recipient_model or CONTACT_MODEL) or not record.exists():
            return None
        if not (record.check_access_rights("read", raise_exception=False) and record._filter_access_rules("read")):
            return None
        return record.id

    @api.onchange("recipient_choice")
    def _onchange_recipient_choice(self):
        # the form has no inverse: the choice sets the model (on a mailing, which resets lists and filter)
        self._inverse_recipient_choice()
