"""The journey's two dialogs: Add to Journey (a list action on SMS-enabled records) and Test.

Test walks the journey's tree for one record, without sending or saving
anything: each Send SMS step's message is the mailing's own preview
(``_get_preview`` of the step's in-memory mailing with the record as its
sample), each Wait and Branch moves the clock; both sides of a Branch are
shown, as the record's future clicks are not known.
"""

from datetime import datetime, timedelta

import pytz
from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_datetime

from ..models.sms_marketing_audience import AUDIENCE_JOURNEY_KEY


class SmsMarketingJourneyAdd(models.TransientModel):
    _name = "sms.marketing.journey.add"
    _description = "Add to SMS Journey"

    res_model = fields.Char(required=True)
    res_ids = fields.Json()
    journey_id = fields.Many2one(
        "sms.marketing.journey",
        required=True,
        domain="[('state', '=', 'running'), ('recipient_model', '=', res_model)]",
    )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        context = self.env.context
        values.setdefault("res_model", context.get("active_model"))
        values.setdefault("res_ids", context.get("active_ids") or [])
        return values

    @api.model
    def _sync_bindings(self):
        """One "Add to Journey" list action per SMS-enabled model, none on the others: called whenever
        a model is enabled, disabled or removed (``sms.marketing.recipient.model``) and on install."""
        Action = self.env["ir.actions.act_window"].sudo()  # sudo: actions are technical records
        actions = Action.search([("res_model", "=", self._name), ("binding_model_id", "!=", False)])
        enabled = self.env["sms.marketing.recipient.model"].sudo().search([]).model_id  # sudo: the configuration
        unwanted = actions.filtered(lambda action: action.binding_model_id not in enabled)
        # one per model: on install, the built-in models' own (data files) come after those made when
        # their configuration was loaded; theirs are kept
        external_ids = (actions - unwanted).get_external_id()
        kept = {}
        for action in (actions - unwanted).sorted(lambda action: (not external_ids.get(action.id), action.id)):
            if action.binding_model_id in kept:
                unwanted |= action
            else:
                kept[action.binding_model_id] = action
        missing = enabled - actions.binding_model_id
        unwanted.unlink()
        Action.create(
            [
                {
                    "name": _("Add to Journey"),
                    "res_model": self._name,
                    "view_mode": "form",
                    "target": "new",
                    "binding_model_id": model.id,
                    "binding_view_types": "list",
                    "groups_id": [(4, self.env.ref("sms_marketing_custom.group_sms_marketing_user").id)],
                }
                for model in missing
            ]
        )

    def action_add(self):
        self.ensure_one()
        if self.res_model not in self.env or not self.env["sms.marketing.recipient.model"]._get_for_model(
            self.res_model
        ):
            raise UserError(_("Only the records of an SMS-enabled model can join a journey."))
        records = self.env[self.res_model].browse(self.res_ids or [])
        entered = self.journey_id._add_records(records)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success" if entered else "warning",
                "message": _(
                    "%(count)s of %(total)s records entered the journey “%(journey)s” (the others are in it, "
                    "or outside its audience).",
                    count=entered,
                    total=len(records),
                    journey=self.journey_id.name,
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }


class SmsMarketingJourneyTest(models.TransientModel):
    _name = "sms.marketing.journey.test"
    _description = "Test an SMS Journey"

    journey_id = fields.Many2one("sms.marketing.journey", required=True, ondelete="cascade")
    record_ref = fields.Reference(string="Record", selection="_selection_record_models")
    timeline = fields.Html(compute="_compute_timeline", sanitize=False)

    @api.model
    def default_get(self, fields_list):
        """The first record of the journey's audience as the current user sees it, so that the dialog
        opens on a timeline: the audience read with the user's rights, not its starter's (a marketer does
        not preview a record they may not read because someone else started the journey)."""
        values = super().default_get(fields_list)
        journey = self.env["sms.marketing.journey"].browse(values.get("journey_id"))
        if "record_ref" in fields_list and journey.exists() and not values.get("record_ref"):
            # without its journey in the context, the audience's rights are the current user's
            audience_mailing = journey._get_audience_mailing().with_context(**{AUDIENCE_JOURNEY_KEY: None})
            self.env.cr.execute(self.env["sms.marketing.audience"]._get_recipients_query(audience_mailing))
            res_ids = sorted(row[0] for row in self.env.cr.fetchall() if row[0])
            if res_ids:
                values["record_ref"] = f"{journey.recipient_model},{res_ids[0]}"
        return values

    @api.model
    def _selection_record_models(self):
        return self.env["sms.marketing.journey"]._selection_recipient_choice()

    @api.depends("journey_id", "record_ref")
    @api.depends_context("lang", "tz")
    def _compute_timeline(self):
        for wizard in self:
            record = wizard.record_ref
            if not record or record._name != wizard.journey_id.recipient_model:
                wizard.timeline = False
                continue
            rows = wizard.journey_id._simulate(record)
            wizard.timeline = Markup("<ol class='o_sms_journey_timeline'>%s</ol>") % Markup("").join(
                Markup("<li style='margin-left: %spx'><b>%s</b> %s%s</li>")
                % (depth * 20, when, escape(label), Markup("<pre>%s</pre>") % text if text else "")
                for depth, when, label, text in rows
            )


class SmsMarketingJourney(models.Model):
    _inherit = "sms.marketing.journey"  # pylint: disable=consider-merging-classes-inherited

    def _simulate(self, record):
        """[(depth, when, label, SMS text)]: what ``record`` would go through from now, nothing sent."""
        self.ensure_one()
        record.check_access_rights("read")
        record.check_access_rule("read")
        root = self._get_root_step()
        if not root:
            raise UserError(_("The journey has no step yet."))
        rows = []
        zone = getattr(record, "tz", False) or self.company_id.partner_id.tz or "UTC"
        self._simulate_step(root, record, fields.Datetime.now(), zone, 0, rows)
        return rows

    def _simulate_step(self, step, record, when, zone, depth, rows):
        if len(rows) > 200:  # a tree is finite; this bounds what a dialog shows
            return
        label = f"{step.name} ({dict(step._fields['step_type']._description_selection(self.env))[step.step_type]})"
        text = False
        if step.step_type == "send":
            mailing = step._get_sample_mailing()
            mailing.preview_ref = f"{record._name},{record.id}"
            text = mailing._get_preview()[0]
        elif step.step_type == "wait":
            when = self._simulate_wait(step, when, zone)
        elif step.step_type == "branch":
            when = when + step._get_delay()
        # in the reader's time zone and date format (the dialog showed 2026-12-05 17:54:08 to an Italian)
        stamp = format_datetime(self.env, when, tz=self.env.context.get("tz") or False, dt_format=False)
        rows.append((depth, stamp, label, text))
        if step.step_type == "branch":
            names = dict(step._fields["branch_condition"]._description_selection(self.env))
            for side, nxt in step._get_next_steps().items():
                rows.append(
                    (
                        depth + 1,
                        "",
                        # a question and its answer: "If Clicked a Link" put the condition's title mid-sentence
                        _(
                            "%(condition)s? %(answer)s",
                            condition=names[step.branch_condition],
                            answer=_("yes") if side == "yes" else _("no"),
                        ),
                        False,
                    )
                )
                if nxt:
                    self._simulate_step(nxt, record, when, zone, depth + 2, rows)
            return
        nxt = step._get_next_steps().get(None)
        if nxt:
            self._simulate_step(nxt, record, when, zone, depth, rows)

    def _simulate_wait(self, step, when, zone):
        if step.wait_type != "time_of_day":
            return when + step._get_delay()
        tz = pytz.timezone(zone) if zone in pytz.all_timezones_set else pytz.utc
        local = pytz.utc.localize(when).astimezone(tz).replace(tzinfo=None)
        target = datetime.combine(local.date(), datetime.min.time()) + timedelta(hours=step.wait_hour)
        if target <= local:
            target += timedelta(days=1)
        return tz.localize(target).astimezone(pytz.utc).replace(tzinfo=None)
