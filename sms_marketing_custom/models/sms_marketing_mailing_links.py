"""Tracked links and opt-out link of SMS mailings.

The engine calls, for each mailing it sends:

* ``_prepare_tracking()`` once before the first batch: one tracker per distinct URL
  of the body (idempotent, safe when two workers do it at once);
* ``_apply_tracking(traces, texts_by_trace)`` for each batch of rendered texts: every
  URL becomes ``{base}/s/{code}/{click token}`` and, with *Include opt-out link*,
  ``sms_optout_suffix`` (with the trace's opt-out token) is appended.

Speed: texts are cut once per distinct text (one text when the body has no
placeholder), trackers are read with one query per batch (URLs that only appear
once rendered, e.g. ``{{ object.website }}``, get their tracker then), and each
trace costs one HMAC plus string joins. Tokens have a fixed length, so the length
shown by the form's counter (``sms_link_length``, ``sms_optout_suffix``) is the
length sent.
"""

import hashlib
import hmac

from odoo import _, api, fields, models

from ..tools import links

SUFFIX_TOKEN_MARKER = "\x00token\x00"


# One file per concern of the mailing (core, audience, sending, links), as the project's layout asks.
class SmsMarketingMailing(models.Model):
    _inherit = "sms.marketing.mailing"  # pylint: disable=consider-merging-classes-inherited

    # tracked links
    link_ids = fields.One2many("sms.marketing.link", "mailing_id", string="Tracked Links")
    # for the form's SMS counter
    sms_link_length = fields.Integer(
        string="Tracked Link Length",
        compute="_compute_sms_link_length",
        help="Number of characters of one tracked short link as sent (each URL of the content is replaced by one).",
    )
    sms_optout_suffix = fields.Char(
        string="Opt-out Text",
        compute="_compute_sms_optout_suffix",
        help="Exact text appended to every SMS when the opt-out link is included.",
    )
    # statistics
    clicked_count = fields.Integer(string="Clicked", compute="_compute_link_statistics")
    optout_count = fields.Integer(string="Opted Out", compute="_compute_link_statistics")

    def _compute_sms_link_length(self):
        length = links.tracked_link_length(self.get_base_url() if len(self) <= 1 else self[:1].get_base_url())
        for mailing in self:
            mailing.sms_link_length = length

    @api.depends("include_optout", "user_id")
    def _compute_sms_optout_suffix(self):
        for mailing in self:
            if mailing.include_optout:
                head, tail = mailing._get_optout_suffix_parts()
                mailing.sms_optout_suffix = head + "X" * links.OPTOUT_TOKEN_LENGTH + tail
            else:
                mailing.sms_optout_suffix = ""

    def _compute_link_statistics(self):
        clicked = optouts = {}
        if self.ids:
            clicked = dict(
                self.env["sms.marketing.link.click"]._read_group(
                    [("mailing_id", "in", self.ids), ("trace_id", "!=", False)],
                    ["mailing_id"],
                    ["trace_id:count_distinct"],
                )
            )
            optouts = dict(
                self.env["sms.marketing.trace"]._read_group(
                    [("mailing_id", "in", self.ids), ("optout_at", "!=", False)], ["mailing_id"], ["__count"]
                )
            )
        for mailing in self:
            mailing.clicked_count = clicked.get(mailing, 0)
            mailing.optout_count = optouts.get(mailing, 0)

    # ------------------------------------------------------------------ actions
    def action_view_links(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("sms_marketing_custom.sms_marketing_link_action")
        action["domain"] = [("mailing_id", "=", self.id)]
        action["context"] = {"default_mailing_id": self.id}
        return action

    def action_view_clicks(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("sms_marketing_custom.sms_marketing_link_click_action")
        action["domain"] = [("mailing_id", "=", self.id)]
        action["context"] = {}
        return action

    def action_view_optouts(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("sms_marketing_custom.sms_marketing_trace_action")
        action["domain"] = [("mailing_id", "=", self.id), ("optout_at", "!=", False)]
        action["context"] = {}
        return action

    # ------------------------------------------------------------------ sending
    def _prepare_tracking(self):
        """Create the trackers of the URLs of the body (once per mailing, idempotent)."""
        Link = self.env["sms.marketing.link"]
        for mailing in self:
            urls = links.trackable_urls(mailing.body or "", mailing._get_own_link_prefixes())
            Link._get_codes(mailing, urls)
        return True

    def _apply_tracking(self, traces, texts_by_trace):
        """{trace_id: final body}: tracked short links with the trace's token, opt-out link.

        :param traces: ``sms.marketing.trace`` records (or ids) of this mailing
        :param texts_by_trace: {trace_id: rendered text} (placeholders already rendered)
        """
        self.ensure_one()
        trace_ids = traces.ids if isinstance(traces, models.BaseModel) else list(traces)
        own_prefixes = self._get_own_link_prefixes()
        click_prefix = own_prefixes[0]
        # cut each distinct text once around its URLs (trackers read/created in one go)
        texts = {texts_by_trace.get(trace_id) or "" for trace_id in trace_ids}
        urls = {url for text in texts for url in links.trackable_urls(text, own_prefixes)}
        codes = self.env["sms.marketing.link"]._get_codes(self, urls) if urls else {}
        parts_by_text = {text: links.compile_text(text, codes, click_prefix) for text in texts}
        include_optout = self.include_optout
        if not include_optout and not codes:
            return {trace_id: texts_by_trace.get(trace_id) or "" for trace_id in trace_ids}
        head, tail = self._get_optout_suffix_parts() if include_optout else ("", "")
        # per trace: one HMAC and string joins only
        key = self.env["sms.marketing.trace"]._get_token_key()
        digest, sha256, tokens_from_digest = hmac.digest, hashlib.sha256, links.tokens_from_digest
        bodies = {}
        for trace_id in trace_ids:
            click_token, optout_token = tokens_from_digest(trace_id, digest(key, links.TOKEN_SCOPE % trace_id, sha256))
            body = click_token.join(parts_by_text[texts_by_trace.get(trace_id) or ""])
            bodies[trace_id] = f"{body}{head}{optout_token}{tail}" if include_optout else body
        return bodies

    # ------------------------------------------------------------------ tools
    def _get_own_link_prefixes(self):
        """(click prefix, opt-out prefix): URLs starting with them are ours and are not tracked again."""
        base_url = self.get_base_url().rstrip("/") if len(self) <= 1 else self[:1].get_base_url().rstrip("/")
        return (base_url + links.CLICK_PATH, base_url + links.OPTOUT_PATH)

    def _get_optout_suffix_parts(self):
        """(text before the token, text after it) of the opt-out suffix, in the responsible's language."""
        self.ensure_one()
        mailing = self.with_context(lang=self.user_id.lang or self.env.lang or "en_US")
        suffix = mailing._get_optout_suffix_text(self._get_own_link_prefixes()[1] + SUFFIX_TOKEN_MARKER)
        head, _marker, tail = suffix.partition(SUFFIX_TOKEN_MARKER)
        return head, tail

    def _get_optout_suffix_text(self, url):
        """The text appended to each SMS; ``url`` is the recipient's opt-out link."""
        return "\n" + _("Opt out: %(url)s", url=url)

    def _get_optout_lists(self):
        """The lists a recipient leaves with the opt-out link; empty when they leave all SMS marketing."""
        self.ensure_one()
        if self.is_list_mailing:
            return self.list_ids
        return self.list_ids.browse()
