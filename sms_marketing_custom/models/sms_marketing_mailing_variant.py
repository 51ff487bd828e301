"""A/B test versions of a mailing: two or more texts, a test share, a winner.

What
    A mailing with ``ab_testing`` sends each of its versions to an equal part
    of a test share of its audience, then, after ``ab_decision_hours`` (or
    when the marketer picks it), the winning version to the rest.

How (docs/design.md, "A/B tests")
    Version A is the mailing's own SMS content (``is_main``: its ``body``
    follows the mailing's); versions B, C... are their own texts. The engine
    builds the test share first (``sms.marketing.audience._get_trace_rows_query``:
    among each window's recipients to send to, the first ``ab_test_share`` %
    by a hash of (mailing, record) — random, the same on every run — dealt
    round-robin to the versions), then, once the winner is known, the rest of
    the audience with the winner. Every trace carries its version
    (``variant_id``) and whether it is in the test share (``ab_sample``).

Invariants: a recipient gets exactly one version — both phases insert into
the same mailing, whose unique (mailing_id, res_id) index refuses a second
trace, and a number already sent in the test is a duplicate in the rest; the
winner is set once (``_start_rest``: one UPDATE from the ``testing`` state).
"""

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..tools.sms_encoding import count_segments

# state a mailing waits in between its test share and its winner
TESTING_STATE = "testing"
# metric name -> (variant field, True when higher is better)
WINNER_METRICS = {
    "clicks": ("click_rate", True),
    "delivered": ("delivered_rate", True),
    "optout": ("optout_rate", False),
    "replies": ("reply_rate", True),
}


class SmsMarketingMailingVariant(models.Model):
    _name = "sms.marketing.mailing.variant"
    _description = "SMS Mailing Version (A/B Test)"
    _order = "mailing_id, is_main desc, sequence, id"

    mailing_id = fields.Many2one("sms.marketing.mailing", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="mailing_id.company_id", store=True)
    state = fields.Selection(related="mailing_id.state")
    sequence = fields.Integer(default=10)
    is_main = fields.Boolean(help="Version A: the mailing's own SMS content.")
    name = fields.Char(string="Version", compute="_compute_name")
    own_body = fields.Text(string="Text of this version")
    body = fields.Text(
        string="SMS Content",
        compute="_compute_body",
        inverse="_inverse_body",
        help="Version A is the mailing's SMS content; the other versions have their own.",
    )
    # what the SMS Content widget counts, as on the mailing
    sms_preview = fields.Text(compute="_compute_sms_preview")
    include_optout = fields.Boolean(related="mailing_id.include_optout")
    sms_link_length = fields.Integer(related="mailing_id.sms_link_length")
    sms_optout_suffix = fields.Char(related="mailing_id.sms_optout_suffix")
    sms_preview_html = fields.Html(string="Preview", compute="_compute_sms_preview", sanitize=False)
    sms_segments = fields.Integer(string="SMS Parts", compute="_compute_sms_preview")
    sms_units = fields.Integer(string="Length", compute="_compute_sms_preview")
    is_winner = fields.Boolean(string="Winner", compute="_compute_is_winner")
    # statistics of the test share (ab_sample traces), one grouped query
    sample_count = fields.Integer(string="In Test", compute="_compute_statistics")
    sent_count = fields.Integer(string="SMS Sent", compute="_compute_statistics")
    delivered_count = fields.Integer(string="SMS Delivered", compute="_compute_statistics")
    clicked_count = fields.Integer(string="Clicked", compute="_compute_statistics")
    optout_count = fields.Integer(string="Opted Out", compute="_compute_statistics")
    replied_count = fields.Integer(string="Replied", compute="_compute_statistics")
    delivered_rate = fields.Float(string="Delivered (%)", compute="_compute_statistics", digits=(16, 1))
    click_rate = fields.Float(string="Clicked (%)", compute="_compute_statistics", digits=(16, 1))
    optout_rate = fields.Float(string="Opted Out (%)", compute="_compute_statistics", digits=(16, 1))
    reply_rate = fields.Float(string="Replied (%)", compute="_compute_statistics", digits=(16, 1))
    rest_count = fields.Integer(
        string="Sent to the Rest", compute="_compute_statistics", help="Messages of the winner beyond the test."
    )

    # ------------------------------------------------------------------ computes
    @api.depends("mailing_id.variant_ids", "is_main", "sequence")
    def _compute_name(self):
        letters = {}
        for mailing in self.mailing_id:
            for index, variant in enumerate(mailing.variant_ids.sorted(lambda v: (not v.is_main, v.sequence))):
                letters[variant] = chr(ord("A") + index % 26)
        for variant in self:
            letter = letters.get(variant)
            variant.name = _("Version %(letter)s", letter=letter) if letter else _("Version")

    @api.depends("is_main", "own_body", "mailing_id.body")
    def _compute_body(self):
        for variant in self:
            variant.body = variant.mailing_id.body if variant.is_main else variant.own_body

    def _inverse_body(self):
        for variant in self.filtered(lambda v: not v.is_main):
            variant.own_body = variant.body

    @api.depends("body", "mailing_id.preview_ref", "mailing_id.include_optout")
    def _compute_sms_preview(self):
        # the mailing's one definition of the message, with this version's text
        for variant in self:
            text = variant.mailing_id._get_preview(variant.body or "")[0] if variant.mailing_id else ""
            info = count_segments(text or "")
            variant.sms_preview = text or ""
            variant.sms_preview_html = variant.mailing_id._render_preview_html(text) if text else False
            variant.sms_segments = info.segments
            variant.sms_units = info.units

    @api.depends("mailing_id.ab_winner_variant_id")
    def _compute_is_winner(self):
        for variant in self:
            variant.is_winner = variant.mailing_id.ab_winner_variant_id == variant

    def _compute_statistics(self):
        stats = self._get_statistics()
        for variant in self:
            row = stats.get(variant.id, {})
            sent = row.get("sent", 0)
            variant.sample_count = row.get("sample", 0)
            variant.sent_count = sent
            variant.delivered_count = row.get("delivered", 0)
            variant.clicked_count = row.get("clicked", 0)
            variant.optout_count = row.get("optout", 0)
            variant.delivered_rate = 100.0 * variant.delivered_count / sent if sent else 0.0
            variant.click_rate = 100.0 * variant.clicked_count / sent if sent else 0.0
            variant.optout_rate = 100.0 * variant.optout_count / sent if sent else 0.0
            variant.replied_count = row.get("replied", 0)
            variant.reply_rate = 100.0 * variant.replied_count / sent if sent else 0.0
            variant.rest_count = row.get("rest", 0)

    def _get_statistics(self):
        """{variant id: {sample, sent, delivered, clicked, optout, rest, replied}} of the test share, one query
        (replied: the recipient's number answered the mailing after this SMS, keywords aside)."""
        ids = [vid for vid in self.ids if isinstance(vid, int)]
        if not ids:
            return {}
        self.env["sms.marketing.trace"].flush_model()
        self.env["sms.marketing.link.click"].flush_model(["trace_id"])
        self.env["sms.marketing.conversation.message"].flush_model()
        self.env.cr.execute(
            SQL(
                """SELECT t.variant_id,
                          count(*) FILTER (WHERE t.ab_sample),
                          count(*) FILTER (WHERE t.ab_sample AND t.sent_at IS NOT NULL),
                          count(*) FILTER (WHERE t.ab_sample AND t.state = 'delivered'),
                          count(*) FILTER (WHERE t.ab_sample AND t.sent_at IS NOT NULL AND EXISTS (
                              SELECT 1 FROM sms_marketing_link_click c WHERE c.trace_id = t.id)),
                          count(*) FILTER (WHERE t.ab_sample AND t.optout_at IS NOT NULL),
                          count(*) FILTER (WHERE NOT t.ab_sample AND t.sent_at IS NOT NULL),
                          count(*) FILTER (WHERE t.ab_sample AND t.sent_at IS NOT NULL AND EXISTS (
                              SELECT 1 FROM sms_marketing_conversation_message r
                               WHERE r.mailing_id = t.mailing_id AND r.number = t.number AND r.direction = 'in'
                                 AND NOT r.is_keyword AND r.date >= t.sent_at))
                     FROM sms_marketing_trace t
                    WHERE t.mailing_id = ANY(%s) AND t.variant_id = ANY(%s)
                 GROUP BY t.variant_id""",
                list(set(self.mailing_id.ids)),
                ids,
            )
        )
        keys = ("sample", "sent", "delivered", "clicked", "optout", "rest", "replied")
        return {row[0]: dict(zip(keys, row[1:], strict=True)) for row in self.env.cr.fetchall()}

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self.env["sms.marketing.mailing"]._check_body_rights(vals.get("own_body") or vals.get("body"))
        variants = super().create(vals_list)
        variants.mailing_id._check_versions_editable()
        return variants

    def write(self, vals):
        self.mailing_id._check_versions_editable()
        if "own_body" in vals or "body" in vals:
            self.env["sms.marketing.mailing"]._check_body_rights(vals.get("own_body") or vals.get("body"))
        return super().write(vals)

    def unlink(self):
        self.mailing_id._check_versions_editable()
        if any(variant.is_main for variant in self) and not self.env.context.get("sms_marketing_ab_reset"):
            raise UserError(_("Version A is the mailing's SMS content: turn the A/B test off instead."))
        return super().unlink()

    # ------------------------------------------------------------------ winner
    def action_choose_winner(self):
        """The marketer's choice: this version goes to the rest of the audience now."""
        self.ensure_one()
        mailing = self.mailing_id
        if mailing.state != TESTING_STATE:
            raise UserError(_("A winner can be chosen once the test share has been sent."))
        if not mailing._start_rest(self):
            raise UserError(_("The winner of “%(subject)s” is already chosen.", subject=mailing.subject))
        return True

    @api.model
    def _pick_winner(self, mailing):
        """The version with the best ``ab_winner_metric`` over its test share; ties go to the first
        version (A before B), so that a test without any answer keeps the original text."""
        versions = mailing.variant_ids.sorted(lambda v: (not v.is_main, v.sequence, v.id))
        field, higher_is_better = WINNER_METRICS.get(mailing.ab_winner_metric, WINNER_METRICS["clicks"])
        best, best_score = versions[:1], None
        for variant in versions:
            score = variant[field] if higher_is_better else -variant[field]
            if best_score is None or score > best_score:
                best, best_score = variant, score
        return best
