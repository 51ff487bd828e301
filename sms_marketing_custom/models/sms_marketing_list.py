from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..tools import links
from ..tools.empty_view import empty_view_help


class SmsMarketingList(models.Model):
    """A mailing list: contacts subscribed to it (``sms.marketing.subscription``).

    Its counters are computed for all the lists of the recordset with one
    aggregated SQL query joined on the normalised number, so that they stay
    instant on lists of a million contacts.
    """

    _name = "sms.marketing.list"
    _description = "SMS Mailing List"
    _order = "name, id"

    name = fields.Char(required=True, translate=False)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    keyword = fields.Char(
        index="btree_not_null",
        copy=False,
        help='People join this list by texting "JOIN <keyword>" to a gateway of the company, then YES.',
    )
    subscription_ids = fields.One2many("sms.marketing.subscription", "list_id", string="Subscriptions")
    contact_ids = fields.Many2many(
        "sms.marketing.contact", "sms_marketing_subscription", "list_id", "contact_id", string="Contacts"
    )
    # counters (one query for all lists)
    contact_count = fields.Integer(string="Number of Contacts", compute="_compute_counts")
    valid_count = fields.Integer(string="Valid Numbers", compute="_compute_counts")
    invalid_count = fields.Integer(string="Invalid Numbers", compute="_compute_counts")
    optout_count = fields.Integer(string="Opted Out", compute="_compute_counts")
    blacklisted_count = fields.Integer(string="Blacklisted", compute="_compute_counts")
    mailing_count = fields.Integer(string="Mailings", compute="_compute_mailing_count")

    @api.model
    def _normalize_list_keyword(self, keyword):
        """The keyword as inbound SMS are read (upper case, no accents nor spaces), or a clear error."""
        normalized = links.normalize_keyword(keyword)
        if not normalized.isalnum():
            raise ValidationError(_("The keyword %(keyword)s must be letters and digits only.", keyword=keyword))
        return normalized

    @api.constrains("keyword", "company_id")
    def _check_keyword_unique(self):
        for sms_list in self.filtered("keyword"):
            # sudo: a clash with a list the user cannot read must be refused too
            domain = [("id", "!=", sms_list.id), ("keyword", "=", sms_list.keyword)]
            if sms_list.company_id:  # a list without a company is every company's
                domain.append(("company_id", "in", [sms_list.company_id.id, False]))
            others = self.sudo().with_context(active_test=False).search_count(domain)
            if others:
                raise ValidationError(
                    _(
                        "Another mailing list of this company already has the keyword %(keyword)s.",
                        keyword=sms_list.keyword,
                    )
                )

    # ------------------------------------------------------------------ computes
    def _compute_counts(self):
        counts = {}
        list_ids = [list_id for list_id in self.ids if list_id]
        if list_ids:
            for model in ("sms.marketing.subscription", "sms.marketing.contact", "sms.marketing.blacklist"):
                self.env[model].flush_model()
            self.env.cr.execute(
                SQL(
                    """
                    SELECT s.list_id,
                           count(*),
                           count(c.phone_sanitized),
                           count(*) FILTER (WHERE s.opt_out),
                           count(b.id)
                      FROM sms_marketing_subscription s
                      JOIN sms_marketing_contact c ON c.id = s.contact_id
                 LEFT JOIN sms_marketing_blacklist b ON b.number = c.phone_sanitized AND b.active
                     WHERE s.list_id = ANY(%s)
                  GROUP BY s.list_id
                    """,
                    list_ids,
                )
            )
            counts = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for mailing_list in self:
            total, valid, optout, blacklisted = counts.get(mailing_list.id, (0, 0, 0, 0))
            mailing_list.contact_count = total
            mailing_list.valid_count = valid
            mailing_list.invalid_count = total - valid
            mailing_list.optout_count = optout
            mailing_list.blacklisted_count = blacklisted

    def _compute_mailing_count(self):
        counts = {}
        list_ids = [list_id for list_id in self.ids if list_id]
        if list_ids:
            field = self.env["sms.marketing.mailing"]._fields["list_ids"]
            self.env["sms.marketing.mailing"].flush_model(["list_ids"])
            self.env.cr.execute(
                SQL(
                    "SELECT %s, count(*) FROM %s WHERE %s = ANY(%s) GROUP BY %s",
                    SQL.identifier(field.column2),
                    SQL.identifier(field.relation),
                    SQL.identifier(field.column2),
                    list_ids,
                    SQL.identifier(field.column2),
                )
            )
            counts = dict(self.env.cr.fetchall())
        for mailing_list in self:
            mailing_list.mailing_count = counts.get(mailing_list.id, 0)

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("keyword"):
                vals["keyword"] = self._normalize_list_keyword(vals["keyword"])
        lists = super().create(vals_list)
        if any("contact_ids" in vals for vals in vals_list):
            lists.env["sms.marketing.subscription"]._invalidate_relations()
        return lists

    def write(self, vals):
        if vals.get("keyword"):
            vals["keyword"] = self._normalize_list_keyword(vals["keyword"])
        result = super().write(vals)
        if "contact_ids" in vals:
            self.env["sms.marketing.subscription"]._invalidate_relations()
        return result

    # ------------------------------------------------------------------ actions
    def action_view_contacts(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id("sms_marketing_custom.sms_marketing_contact_action")
        action["domain"] = [("list_ids", "in", self.ids)]
        action["context"] = {"default_list_ids": self.ids, "search_default_filter_valid": 0}
        return action

    def action_view_contacts_filtered(self):
        """Stat buttons: the list's contacts with the filter named in the context."""
        action = self.action_view_contacts()
        filter_name = self.env.context.get("contact_filter")
        if filter_name == "optout":
            action["domain"] = [("subscription_ids", "any", [("list_id", "=", self.id), ("opt_out", "=", True)])]
        elif filter_name:
            action["context"] = dict(action["context"], **{f"search_default_filter_{filter_name}": 1})
        return action

    def action_view_mailings(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Mailings"),
            "res_model": "sms.marketing.mailing",
            "view_mode": "tree,form",
            "domain": [("list_ids", "in", self.ids)],
            "context": {"default_list_ids": self.ids},
            "help": empty_view_help(
                _("No mailing to this list yet"), _("Create one: it goes to the list's subscribers.")
            ),
        }

    def action_import_contacts(self):
        """Odoo's import screen for contacts, subscribing the imported rows to this list."""
        self.ensure_one()
        return self.env["sms.marketing.contact"].with_context(default_list_ids=self.ids).action_import()
