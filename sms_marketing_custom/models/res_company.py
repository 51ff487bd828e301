from odoo import _, api, fields, models

from ..tools import links


def _default_keywords(action):
    return lambda self: ", ".join(sorted(links.DEFAULT_KEYWORDS[action]))


class ResCompany(models.Model):
    _inherit = "res.company"

    # Frequency cap ("smart sending"): defaults of the company's new mailings.
    sms_marketing_frequency_cap_count = fields.Integer(
        string="SMS Frequency Cap",
        default=0,
        help="Skip a number that received at least this many marketing SMS in the period. 0: no cap.",
    )
    sms_marketing_frequency_cap_hours = fields.Integer(
        string="SMS Frequency Cap Period (hours)",
        default=24,
        help="The period of the frequency cap, in hours.",
    )

    # Sending window ("quiet hours") in each recipient's local time: defaults of new mailings.
    sms_marketing_quiet_hours = fields.Boolean(
        string="SMS Sending Window",
        help="New mailings send only inside the window, in each recipient's time zone.",
    )
    sms_marketing_window_start = fields.Float(string="SMS Window Opens", default=9.0)
    sms_marketing_window_end = fields.Float(string="SMS Window Closes", default=20.0)
    sms_marketing_window_no_sunday = fields.Boolean(string="No SMS on Sundays")

    # Inbound keywords (comma-separated) and their answers; an empty answer is the built-in text.
    sms_marketing_keywords_optout = fields.Char(string="STOP Keywords", default=_default_keywords("optout"))
    sms_marketing_keywords_optin = fields.Char(string="START Keywords", default=_default_keywords("optin"))
    sms_marketing_keywords_help = fields.Char(string="HELP Keywords", default=_default_keywords("help"))
    sms_marketing_keywords_join = fields.Char(string="JOIN Keywords", default=_default_keywords("join"))
    sms_marketing_keywords_yes = fields.Char(string="YES Keywords", default=_default_keywords("yes"))
    sms_marketing_reply_stop = fields.Char(string="Answer to STOP", translate=True)
    sms_marketing_reply_start = fields.Char(string="Answer to START", translate=True)
    sms_marketing_reply_help = fields.Char(string="Answer to HELP", translate=True)
    sms_marketing_reply_join = fields.Char(
        string="Answer to JOIN", translate=True, help="{list} is replaced by the list's name."
    )
    sms_marketing_reply_joined = fields.Char(
        string="Answer to YES", translate=True, help="{list} is replaced by the list's name."
    )

    # Conversations: which mailing a reply answers, and who hears of a new one.
    sms_marketing_reply_window_days = fields.Integer(
        string="SMS Reply Window (days)",
        default=7,
        help="An inbound SMS counts as a reply to the mailing last sent to its number within this many days. "
        "0: replies are not tied to mailings.",
    )
    sms_marketing_conversation_user_ids = fields.Many2many(
        "res.users",
        "res_company_sms_marketing_conversation_user_rel",
        "company_id",
        "user_id",
        string="SMS Conversation Team",
        help="Notified of a new reply when its mailing has no Responsible (or the reply answers no mailing).",
    )

    def _get_sms_marketing_keywords(self, typed=None):
        """{action: set of normalised keywords} of this company (the built-in lists where empty); ``typed``:
        {action: keyword text} read instead of the company's (a settings form not saved yet)."""
        self.ensure_one()
        typed = typed or {}
        return {
            action: links.parse_keywords(typed[action] if action in typed else self[f"sms_marketing_keywords_{action}"])
            or default
            for action, default in links.DEFAULT_KEYWORDS.items()
        }

    def _get_sms_marketing_reply_lang(self, keyword):
        """The language of an answer: the keyword's when the database has it, else the company's."""
        self.ensure_one()
        code = links.KEYWORD_LANGS.get(keyword or "")
        if code:
            langs = self.env["res.lang"].sudo().search([("code", "=like", f"{code}%")], limit=1)
            if langs:
                return langs.code
        return self.partner_id.lang or "en_US"

    def _get_sms_marketing_reply(self, kind, lang, list_name=""):
        """The answer to a keyword in ``lang``: the company's text, else the built-in one."""
        self.ensure_one()
        company = self.with_context(lang=lang).sudo()  # sudo: answered on behalf of an anonymous sender
        words = self._get_sms_marketing_answer_words(lang)
        text = company[f"sms_marketing_reply_{kind}"]
        if not text:
            return company._get_sms_marketing_default_reply(kind, self.name, words, list_name or "")
        for name, value in dict(words, company=self.name, list=list_name or "").items():
            text = text.replace("{" + name + "}", value)
        return text

    def _get_sms_marketing_answer_words(self, lang, typed=None):
        """{"stop": the opt-out keyword an answer in ``lang`` names, "start": the opt-in one, "yes": the
        confirmation}, each one of the company's keywords: the word of the answer's language where
        there is one (``links.YES_WORD_BY_LANG``), else the English one, else the first. ``typed``:
        {action: keyword text} of a settings form not saved yet, read instead of the company's."""
        self.ensure_one()
        keywords = self._get_sms_marketing_keywords(typed)
        local_yes = links.YES_WORD_BY_LANG.get((lang or "").split("_")[0])
        words = {}
        for name, action, preferred in (
            ("stop", "optout", ["STOP"]),
            ("start", "optin", ["START"]),
            ("yes", "yes", [local_yes, "YES"]),
        ):
            chosen = keywords[action]
            words[name] = next((word for word in preferred if word in chosen), None) or sorted(chosen)[0]
        return words

    def _get_sms_marketing_default_reply(self, kind, company, words, list_name):
        """The built-in answers, in the language of the context; ``words``: ``_get_sms_marketing_answer_words``."""
        stop = words["stop"]
        if kind == "stop":
            return _(
                "%(company)s: you will receive no more SMS from us. Reply %(start)s to undo.",
                company=company,
                start=words["start"],
            )
        if kind == "start":
            return _("%(company)s: you will receive our SMS again. Reply %(stop)s to stop.", company=company, stop=stop)
        if kind == "help":
            return _("%(company)s SMS alerts. Reply %(stop)s to stop receiving them.", company=company, stop=stop)
        if kind == "join":
            return _(
                "%(company)s: reply %(yes)s to join %(list)s. Reply %(stop)s to stop.",
                company=company,
                yes=words["yes"],
                list=list_name,
                stop=stop,
            )
        return _(
            "%(company)s: you joined %(list)s. Reply %(stop)s to stop.", company=company, list=list_name, stop=stop
        )

    @api.constrains("sms_marketing_window_start", "sms_marketing_window_end")
    def _check_sms_marketing_window(self):
        self.env["sms.marketing.mailing"]._check_window_values(
            self, "sms_marketing_window_start", "sms_marketing_window_end"
        )

    @api.constrains("sms_marketing_frequency_cap_count", "sms_marketing_frequency_cap_hours")
    def _check_sms_marketing_frequency_cap(self):
        self.env["sms.marketing.mailing"]._check_frequency_cap_values(
            self, "sms_marketing_frequency_cap_count", "sms_marketing_frequency_cap_hours"
        )
