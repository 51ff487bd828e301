"""Demo journeys with their life: a welcome series on the VIP Club and a birthday journey on the customers.

Only called from demo/sms_marketing_journey_demo.xml, after the demo story
(its lists and contacts). Their SMS are written as the engine and the
gateway would have (``sms.marketing.demo._demo_send``), with the same seeded
generator, so every demo database shows the same figures.
"""

import random
from datetime import date, timedelta

from odoo import api, fields, models

from .sms_marketing_journey_participant import EXIT_FAILURES


def _makes_leave(trace):
    """As the engine decides: a message canceled for a STOP-like reason (blacklisted, opted out) ends its
    participant's journey; one canceled for another reason (an invalid number) does not."""
    return bool(trace) and trace.state == "canceled" and trace.failure_type in EXIT_FAILURES


class SmsMarketingDemo(models.AbstractModel):
    _inherit = "sms.marketing.demo"

    @api.model
    def _create_demo_journeys(self):
        rng = random.Random(27)
        env = self.env
        lists = env["sms.marketing.list"]
        vip = lists.search([("name", "=", "VIP Club")], limit=1)
        customers = lists.search([("name", "=", "Customers")], limit=1)
        if not vip or not customers:
            return
        now = fields.Datetime.now()
        admin = env.ref("base.user_admin")
        Journey, Step = env["sms.marketing.journey"], env["sms.marketing.journey.step"]
        welcome = Journey.create(
            {"name": "VIP Club welcome series", "list_ids": [(6, 0, vip.ids)], "trigger": "list", "user_id": admin.id}
        )
        first = Step.create(
            {
                "name": "Welcome",
                "journey_id": welcome.id,
                "step_type": "send",
                "body": "Welcome to the VIP Club, {{ object.name.split()[0] }}! Your perks: https://shop.example.com/vip",
            }
        )
        branch = Step.create(
            {
                "name": "Clicked within 2 days?",
                "journey_id": welcome.id,
                "parent_id": first.id,
                "step_type": "branch",
                "branch_condition": "clicked",
                "branch_hours": 48,
            }
        )
        coupon = Step.create(
            {
                "name": "Coupon",
                "journey_id": welcome.id,
                "parent_id": branch.id,
                "branch_side": "no",
                "step_type": "send",
                "body": "A gift to start: 10% off your next order with code VIP10. https://shop.example.com/vip10",
            }
        )
        welcome.with_user(admin).action_start()
        welcome.started_at = now - timedelta(days=12)
        birthday = Journey.create(
            {
                "name": "Happy birthday",
                "list_ids": [(6, 0, customers.ids)],
                "trigger": "date",
                "date_field_id": env["ir.model.fields"]._get("sms.marketing.contact", "birthday").id,
                "allow_reentry": True,
                "user_id": admin.id,
            }
        )
        wish = Step.create(
            {
                "name": "Birthday wish",
                "journey_id": birthday.id,
                "step_type": "send",
                "body": "Happy birthday {{ object.name.split()[0] }}! 15% off all week: https://shop.example.com/bday",
            }
        )
        contacts = customers.contact_ids
        today = fields.Date.context_today(self)
        for contact in contacts:
            contact.birthday = date(rng.randint(1960, 2004), 1, 1) + timedelta(days=rng.randint(0, 364))
        birthday.with_user(admin).action_start()
        birthday.started_at = now - timedelta(days=30)
        # the welcome series: everyone of the VIP Club welcomed 10 days ago, the last few yesterday
        self._demo_send(first.mailing_id, now - timedelta(days=10), rng, 0.95, 0.02, 0.35, 0.01)
        traces = first.mailing_id.trace_ids.sorted("res_id")
        recent = traces[-5:]
        recent.write({"sent_at": now - timedelta(days=1)})
        clicked = set(env["sms.marketing.link.click"].search([("trace_id", "in", traces.ids)]).trace_id.ids)
        left = traces.filtered(_makes_leave)
        late = (traces - left - recent).filtered(lambda t: t.id not in clicked)
        coupon.mailing_id.domain = str([("id", "in", late.mapped("res_id"))])  # the demo's past audience
        self._demo_send(coupon.mailing_id, now - timedelta(days=8), rng, 0.95, 0.02, 0.2, 0.01)
        coupon_traces = {t.res_id: t for t in coupon.mailing_id.trace_ids}
        values = []
        for trace in traces:
            row = {"journey_id": welcome.id, "res_model": "sms.marketing.contact", "res_id": trace.res_id}
            row["entered_at"] = row["step_entered_at"] = trace.sent_at or now - timedelta(days=10)
            if trace in left:
                row.update(state="exited", exit_reason=trace.failure_type, step_id=first.id)
            elif trace in recent:
                row.update(state="running", step_id=branch.id, next_action_at=trace.sent_at + timedelta(hours=48))
            elif trace.id in clicked:
                row.update(state="done", step_id=branch.id)
            else:
                last = coupon_traces.get(trace.res_id)
                row.update(state="done", step_id=coupon.id, last_trace_id=last.id if last else False)
                if _makes_leave(last):
                    # opted out since the welcome (its link): the coupon's message was canceled, they left
                    row.update(state="exited", exit_reason=last.failure_type)
            row.setdefault("last_trace_id", trace.id)
            values.append(row)
        # birthdays of the last 30 days: wished on the day
        celebrated = contacts.filtered(lambda c: 0 <= (today - self._this_year(c.birthday, today)).days < 30)
        wish.mailing_id.domain = str([("id", "in", celebrated.ids)])
        self._demo_send(wish.mailing_id, now - timedelta(days=15), rng, 0.96, 0.02, 0.25, 0.005)
        for trace in wish.mailing_id.trace_ids:
            state = "exited" if _makes_leave(trace) else "done"
            values.append(
                {
                    "journey_id": birthday.id,
                    "res_model": "sms.marketing.contact",
                    "res_id": trace.res_id,
                    "step_id": wish.id,
                    "state": state,
                    "exit_reason": trace.failure_type if state == "exited" else False,
                    "entered_at": now - timedelta(days=15),
                    "step_entered_at": now - timedelta(days=15),
                    "last_trace_id": trace.id,
                }
            )
        env["sms.marketing.journey.participant"].create(values)

    @api.model
    def _this_year(self, day, today):
        """``day`` in ``today``'s year (29 February: the 28th)."""
        return day.replace(year=today.year, day=min(day.day, 28) if day.month == 2 else day.day)
