from urllib.parse import urlsplit

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..tools import links


class SmsMarketingLink(models.Model):
    """A tracked link: a URL behind a short, random code (``/l/<code>``).

    Trackers of a mailing are created when it is sent (one per distinct URL);
    marketers can also create one by hand and share its short URL. Clicks are
    insert-only rows (no counter row to lock when thousands click at once).
    """

    _name = "sms.marketing.link"
    _description = "SMS Tracked Link"
    _rec_name = "title"
    _order = "id desc"

    # tracked target
    url = fields.Char(string="URL", required=True)
    title = fields.Char(compute="_compute_title", store=True, readonly=False)
    # short link
    code = fields.Char(required=True, readonly=True, copy=False, default=lambda self: links.random_code())
    short_url = fields.Char(string="Short URL", compute="_compute_short_url")
    # statistics
    mailing_id = fields.Many2one("sms.marketing.mailing", ondelete="cascade", index=True)
    click_ids = fields.One2many("sms.marketing.link.click", "link_id", string="Click Records")
    click_count = fields.Integer(string="Clicks", compute="_compute_click_count")

    _sql_constraints = [
        ("code_unique", "unique(code)", "The short code must be unique."),
        # one tracker per URL and mailing, also when two cron workers prepare the same mailing
        ("mailing_url_unique", "unique(mailing_id, url)", "This URL is already tracked for this mailing."),
    ]

    @api.depends("url")
    def _compute_title(self):
        for link in self:
            parts = urlsplit(link.url or "")
            link.title = link.title or (parts.netloc + parts.path).rstrip("/") or link.url

    def _compute_short_url(self):
        prefix = self._get_click_prefix()
        for link in self:
            link.short_url = f"{prefix}{link.code}" if link.code else False

    def _compute_click_count(self):
        counts = {}
        if self.ids:
            groups = self.env["sms.marketing.link.click"]._read_group(
                [("link_id", "in", self.ids)], ["link_id"], ["__count"]
            )
            counts = {link.id: count for link, count in groups}
        for link in self:
            link.click_count = counts.get(link.id, 0)

    @api.constrains("url")
    def _check_url(self):
        # the redirect must never lead to javascript:, data: or a header injection
        for link in self:
            parts = urlsplit(link.url or "")
            if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in link.url):
                raise ValidationError(
                    _(
                        "The tracked URL must be a web address starting with http:// or https:// (%(url)s).",
                        url=link.url,
                    )
                )

    # ------------------------------------------------------------------ actions
    def action_view_clicks(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("sms_marketing_custom.sms_marketing_link_click_action")
        action["domain"] = [("link_id", "=", self.id)]
        action["context"] = {}
        return action

    # ------------------------------------------------------------------ tools
    def _get_click_prefix(self):
        """ "https://host/s/": what every short link of this database starts with."""
        # the database's address: Odoo's get_base_url wants one record or none, and links have no website
        return self.browse().get_base_url().rstrip("/") + links.CLICK_PATH

    @api.model
    def _get_codes(self, mailing, urls):
        """{url: code} of ``mailing``'s trackers for ``urls``, creating the missing ones.

        One query when they all exist. Concurrent workers may create the same URL:
        the unique (mailing_id, url) index lets one win (ON CONFLICT DO NOTHING).
        """
        urls = list(dict.fromkeys(urls))
        if not urls:
            return {}
        query = SQL(
            "SELECT url, code FROM sms_marketing_link WHERE mailing_id = %s AND url = ANY(%s)", mailing.id, urls
        )
        self.env.cr.execute(query)
        codes = dict(self.env.cr.fetchall())
        missing = [url for url in urls if url not in codes]
        if missing:
            # validate the URLs through the ORM rules, then insert race-free in SQL
            for url in missing:
                self.new({"url": url})._check_url()
            now = fields.Datetime.now()
            uid = self.env.uid
            rows = [
                SQL(
                    "(%s, %s, %s, %s, %s, %s, %s, %s)",
                    url,
                    self.new({"url": url}).title,
                    links.random_code(),
                    mailing.id,
                    uid,
                    now,
                    uid,
                    now,
                )
                for url in missing
            ]
            self.env.cr.execute(
                SQL(
                    """INSERT INTO sms_marketing_link (url, title, code, mailing_id, create_uid, create_date,
                                                       write_uid, write_date)
                       VALUES %s ON CONFLICT DO NOTHING""",
                    SQL(", ").join(rows),
                )
            )
            self.invalidate_model()
            mailing.invalidate_recordset(["link_ids"])
            self.env.cr.execute(query)
            codes = dict(self.env.cr.fetchall())
            missing = [url for url in urls if url not in codes]
            if missing:  # a random code collided (1 in billions): try again
                codes.update(self._get_codes(mailing, missing))
        return codes

    @api.model
    def _resolve_click(self, code, token=None):
        """(link id, url, trace id or None) for a short code, one indexed query; None if unknown.

        The trace is only returned when the token's MAC is valid and the trace belongs
        to the link's mailing.
        """
        trace_id = self.env["sms.marketing.trace"]._check_click_token(token) if token else None
        self.env.cr.execute(
            SQL(
                """SELECT link.id, link.url, trace.id
                     FROM sms_marketing_link link
                LEFT JOIN sms_marketing_trace trace ON trace.id = %s AND trace.mailing_id = link.mailing_id
                    WHERE link.code = %s""",
                trace_id or 0,
                code,
            )
        )
        return self.env.cr.fetchone()

    @api.model
    def _route_click(self, code, token=None, user_agent=None, country_code=None, count=True):
        """Record a human click on ``/l/<code>[/<token>]`` (or the legacy ``/s/<code>/<token>``);
        return the URL to redirect to.

        Returns None for unknown codes. Bots and link previews get the URL but are not counted.
        """
        code = links.leading_code(code)
        if len(code) != links.CODE_LENGTH:
            return None
        row = self._resolve_click(code, links.leading_code(token))
        if not row:
            return None
        link_id, url, trace_id = row
        if count and not links.is_bot(user_agent):
            self.env["sms.marketing.link.click"]._add_click(link_id, trace_id, country_code)
        return url
