"""The mailing's A/B test: versions sent to a test share, then the winner to the rest.

The versions are ``sms.marketing.mailing.variant`` (version A is the mailing's
own text); which version a recipient gets is its audience
(``sms.marketing.audience._get_trace_rows_query``), which version wins is
``sms.marketing.mailing.variant._pick_winner``, and the winner goes to the
rest through the transition ``_start_rest`` (models/sms_marketing_mailing_state.py).
See docs/design.md, "A/B tests".
"""

from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError


class SmsMarketingMailing(models.Model):
    _inherit = "sms.marketing.mailing"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------ fields
    ab_testing = fields.Boolean(
        string="A/B Test",
        copy=True,
        help="Send two or more versions to a test share of the audience, then the best one to the rest.",
    )
    variant_ids = fields.One2many("sms.marketing.mailing.variant", "mailing_id", string="Versions", copy=True)
    ab_test_share = fields.Integer(
        string="Test Share (%)",
        default=10,
        help="The part of the audience that receives the versions, split evenly; the rest gets the winner.",
    )
    ab_winner_metric = fields.Selection(
        [
            ("clicks", "Most clicks"),
            ("delivered", "Best delivery rate"),
            ("optout", "Fewest opt-outs"),
            ("replies", "Most replies"),
            ("manual", "I choose"),
        ],
        string="Winner By",
        default="clicks",
        required=True,
    )
    ab_decision_hours = fields.Integer(
        string="Decide After (hours)", default=4, help="Hours after the test share is sent."
    )
    ab_test_sent_at = fields.Datetime(string="Test Sent On", readonly=True, copy=False)
    ab_decision_at = fields.Datetime(string="Winner Chosen On", compute="_compute_ab_decision_at")
    ab_winner_variant_id = fields.Many2one(
        "sms.marketing.mailing.variant", string="Winning Version", readonly=True, copy=False
    )

    # ------------------------------------------------------------------ A/B test
    def _get_version_bodies(self):
        """The texts this mailing sends: its body, and with an A/B test each other version's."""
        self.ensure_one()
        bodies = [self.body or ""]
        if self.ab_testing:
            bodies += [variant.body or "" for variant in self.variant_ids if not variant.is_main]
        return bodies

    @api.depends("ab_test_sent_at", "ab_decision_hours", "ab_winner_metric")
    def _compute_ab_decision_at(self):
        for mailing in self:
            automatic = mailing.ab_test_sent_at and mailing.ab_winner_metric != "manual"
            mailing.ab_decision_at = (
                mailing.ab_test_sent_at + timedelta(hours=mailing.ab_decision_hours) if automatic else False
            )

    @api.onchange("ab_testing")
    def _onchange_ab_testing(self):
        # the versions list starts with A (this mailing's text) and an empty B
        if self.ab_testing and not self.variant_ids:
            self.variant_ids = [
                fields.Command.create({"is_main": True, "sequence": 0}),
                fields.Command.create({"sequence": 1, "own_body": self.body}),
            ]

    @api.constrains("ab_test_share", "ab_decision_hours")
    def _check_ab_values(self):
        for mailing in self.filtered("ab_testing"):
            if not 1 <= mailing.ab_test_share <= 100:
                raise ValidationError(_("The test share is a percentage of the audience, from 1 to 100."))
            if mailing.ab_decision_hours < 0:
                raise ValidationError(_("The winner cannot be chosen before the test share is sent."))

    def _ensure_main_version(self):
        """An A/B test's version A is the mailing's own text: one ``is_main`` version, always."""
        for mailing in self.filtered(lambda m: m.ab_testing and not m.variant_ids.filtered("is_main")):
            self.env["sms.marketing.mailing.variant"].create({"mailing_id": mailing.id, "is_main": True, "sequence": 0})

    def _check_versions_editable(self):
        for mailing in self:
            if mailing.state not in ("draft", "scheduled"):
                raise UserError(
                    _("The versions of “%(subject)s” can no longer change: it has started.", subject=mailing.subject)
                )

    def _check_ab_test(self, large):
        """Send's check of an A/B test: two versions with a text, a test share that reaches each one
        (counted unless the audience is ``large``, whose share always does)."""
        self.ensure_one()
        if not self.ab_testing:
            return
        versions = self.variant_ids
        if len(versions) < 2:
            raise UserError(_("An A/B test needs at least two versions: add one, or turn the A/B test off."))
        empty = versions.filtered(lambda v: not (v.body or "").strip())
        if empty:
            raise UserError(_("%(version)s has no text.", version=empty[0].name))
        # a large audience's share reaches every version: only a small one is counted
        to_send = 0 if large else self.audience_to_send
        test_count = -(-to_send * self.ab_test_share // 100)  # rounded up, as the engine draws it
        if to_send and self.ab_test_share < 100 and test_count >= to_send:
            # rounding up a share of a small audience takes everyone: the promised "winner to the rest"
            # would go to nobody
            raise UserError(
                _(
                    "A test share of %(share)s%% of %(count)s recipients is all of them: nobody would be left "
                    "for the winner. Lower the share, or send without A/B test.",
                    share=self.ab_test_share,
                    count=to_send,
                )
            )
        if to_send and test_count < len(versions):
            raise UserError(
                _(
                    "A test share of %(share)s%% of %(count)s recipients does not reach each of the "
                    "%(versions)s versions: raise the share.",
                    share=self.ab_test_share,
                    count=to_send,
                    versions=len(versions),
                )
            )

    def _get_winning_body(self):
        """The text the whole audience is sent: an A/B test's winning version's once chosen, else the mailing's."""
        self.ensure_one()
        return self.ab_winner_variant_id.body or self.body
