from odoo import _, api, fields, models

# the keywords' answers a company may write, each with its built-in text when it writes none
REPLY_KINDS = ("stop", "start", "help", "join", "joined")


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    sms_marketing_frequency_cap_count = fields.Integer(
        related="company_id.sms_marketing_frequency_cap_count", readonly=False
    )
    sms_marketing_frequency_cap_hours = fields.Integer(
        related="company_id.sms_marketing_frequency_cap_hours", readonly=False
    )
    sms_marketing_quiet_hours = fields.Boolean(related="company_id.sms_marketing_quiet_hours", readonly=False)
    sms_marketing_window_start = fields.Float(related="company_id.sms_marketing_window_start", readonly=False)
    sms_marketing_window_end = fields.Float(related="company_id.sms_marketing_window_end", readonly=False)
    sms_marketing_window_no_sunday = fields.Boolean(related="company_id.sms_marketing_window_no_sunday", readonly=False)
    sms_marketing_keywords_optout = fields.Char(related="company_id.sms_marketing_keywords_optout", readonly=False)
    sms_marketing_keywords_optin = fields.Char(related="company_id.sms_marketing_keywords_optin", readonly=False)
    sms_marketing_keywords_help = fields.Char(related="company_id.sms_marketing_keywords_help", readonly=False)
    sms_marketing_keywords_join = fields.Char(related="company_id.sms_marketing_keywords_join", readonly=False)
    sms_marketing_keywords_yes = fields.Char(related="company_id.sms_marketing_keywords_yes", readonly=False)
    sms_marketing_reply_stop = fields.Char(related="company_id.sms_marketing_reply_stop", readonly=False)
    sms_marketing_reply_start = fields.Char(related="company_id.sms_marketing_reply_start", readonly=False)
    sms_marketing_reply_help = fields.Char(related="company_id.sms_marketing_reply_help", readonly=False)
    sms_marketing_reply_join = fields.Char(related="company_id.sms_marketing_reply_join", readonly=False)
    sms_marketing_reply_joined = fields.Char(related="company_id.sms_marketing_reply_joined", readonly=False)
    # what an empty answer sends, shown under it (the user's language; {list} stays for the list's name)
    sms_marketing_reply_stop_builtin = fields.Char(
        string="Built-in Answer to STOP", compute="_compute_sms_marketing_reply_builtin"
    )
    sms_marketing_reply_start_builtin = fields.Char(
        string="Built-in Answer to START", compute="_compute_sms_marketing_reply_builtin"
    )
    sms_marketing_reply_help_builtin = fields.Char(
        string="Built-in Answer to HELP", compute="_compute_sms_marketing_reply_builtin"
    )
    sms_marketing_reply_join_builtin = fields.Char(
        string="Built-in Answer to JOIN", compute="_compute_sms_marketing_reply_builtin"
    )
    sms_marketing_reply_joined_builtin = fields.Char(
        string="Built-in Answer to YES", compute="_compute_sms_marketing_reply_builtin"
    )
    sms_marketing_reply_window_days = fields.Integer(
        related="company_id.sms_marketing_reply_window_days", readonly=False
    )
    sms_marketing_conversation_user_ids = fields.Many2many(
        related="company_id.sms_marketing_conversation_user_ids", readonly=False
    )
    # global, an administrator's (ir.config_parameter): kept as long as the database's oldest obligations need
    sms_marketing_body_retention_months = fields.Integer(
        string="Keep Message Texts (Months)",
        config_parameter="sms_marketing_custom.body_retention_months",
        groups="base.group_system",
        help="The texts of the SMS sent more than this many months ago are emptied each night; their recipients, "
        "states, dates, costs, clicks and opt-outs are kept, and so every figure. 0: kept for ever.",
    )

    @api.depends(
        "company_id", "sms_marketing_keywords_optout", "sms_marketing_keywords_optin", "sms_marketing_keywords_yes"
    )
    def _compute_sms_marketing_reply_builtin(self):
        for settings in self:
            company = settings.company_id
            # the keywords as typed, before they are saved: the answers name the words the company will use
            words = company._get_sms_marketing_answer_words(
                self.env.lang,
                typed={action: settings[f"sms_marketing_keywords_{action}"] for action in ("optout", "optin", "yes")},
            )
            for kind in REPLY_KINDS:
                answer = company._get_sms_marketing_default_reply(kind, company.name, words, "{list}")
                settings[f"sms_marketing_reply_{kind}_builtin"] = _("Empty: %(answer)s", answer=answer)
