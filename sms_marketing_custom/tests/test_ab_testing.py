from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import SmsEngineCase

BODY_A = "Spring sale: 20% off today!"
BODY_B = "Only today: 20% off everything in store"
BODY_C = "Your spring coupon: SPRING20"


@tagged("post_install", "-at_install")
class TestAbTesting(SmsEngineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contacts = cls._make_contacts(200)

    def _make_ab_mailing(self, share=30, metric="clicks", bodies=(BODY_B, BODY_C), **values):
        mailing = self._make_mailing(ab_testing=True, ab_test_share=share, ab_winner_metric=metric, **values)
        self.env["sms.marketing.mailing.variant"].create(
            [{"mailing_id": mailing.id, "own_body": body, "sequence": i + 1} for i, body in enumerate(bodies)]
        )
        return mailing

    def _versions(self, mailing):
        return mailing.variant_ids.sorted(lambda v: (not v.is_main, v.sequence))

    def _click(self, traces):
        link = self.env["sms.marketing.link"].create(
            {
                "mailing_id": traces.mailing_id.id,
                "url": f"https://example.com/{traces[:1].id}",
                "code": f"ab{traces[:1].id}",
            }
        )
        self.env["sms.marketing.link.click"].create([{"link_id": link.id, "trace_id": t.id} for t in traces])

    def test_test_share_is_split_evenly_and_waits_for_the_winner(self):
        mailing = self._start(self._make_ab_mailing(share=30))
        a, b, c = self._versions(mailing)
        self.assertEqual((a.name, b.name, c.name), ("Version A", "Version B", "Version C"))
        self.assertTrue(a.is_main)
        self.assertEqual(a.body, BODY_A, "version A is the mailing's text")
        self._run_cron()
        self.assertEqual(mailing.state, "testing")
        self.assertTrue(mailing.ab_test_sent_at)
        self.assertFalse(mailing.sent_date)
        traces = mailing.trace_ids
        self.assertEqual(len(traces), 60, "30% of 200, no one else yet")
        self.assertTrue(all(traces.mapped("ab_sample")))
        by_version = {v: traces.filtered(lambda t, v=v: t.variant_id == v) for v in (a, b, c)}
        self.assertEqual([len(t) for t in by_version.values()], [20, 20, 20])
        for version, body in ((a, BODY_A), (b, BODY_B), (c, BODY_C)):
            self.assertEqual(set(by_version[version].mapped("body")), {body})
            self.assertEqual(version.sample_count, 20)
            self.assertEqual(version.sent_count, 20)
        self.assertEqual(len(set(traces.mapped("res_id"))), 60)
        # the decision is not taken before its time
        self._run_cron()
        self.assertEqual(mailing.state, "testing")
        self.assertFalse(mailing.ab_winner_variant_id)

    def test_the_draw_is_random_but_the_same_on_every_run(self):
        mailing = self._start(self._make_ab_mailing(share=10))
        self._run_cron()
        first = {(t.res_id, t.variant_id.id) for t in mailing.trace_ids}
        self.assertEqual(len(first), 20)
        picked = sorted(res_id for res_id, _v in first)
        self.assertNotEqual(picked, sorted(self.contacts.ids)[:20], "not simply the first records")
        # rebuilt from scratch (as after losing every trace), the same recipients get the same versions
        mailing.trace_ids.sudo().unlink()
        mailing.write({"state": "sending", "trace_build_done": False, "trace_build_cursor": 0, "trace_build_max": 0})
        self._run_cron()
        self.assertEqual({(t.res_id, t.variant_id.id) for t in mailing.trace_ids}, first)

    def test_rebuilding_a_window_adds_nobody_twice(self):
        """A builder that dies after its window's commit and runs again: every recipient keeps one version."""
        mailing = self._start(self._make_ab_mailing(share=50))
        engine = self.env["sms.marketing.engine"]
        params = engine._get_params()
        engine._build_traces(mailing, params)
        before = {(t.res_id, t.variant_id.id) for t in mailing.trace_ids}
        mailing.write({"trace_build_done": False, "trace_build_cursor": 0})
        engine._build_traces(mailing, params)
        mailing.invalidate_recordset()
        self.assertEqual({(t.res_id, t.variant_id.id) for t in mailing.trace_ids}, before)

    def test_winner_by_clicks_goes_to_the_rest_after_the_decision_time(self):
        start = fields.Datetime.now()
        with freeze_time(start):
            mailing = self._start(self._make_ab_mailing(share=30, ab_decision_hours=4))
            _a, b, c = self._versions(mailing)
            self._run_cron()
        self.assertEqual(mailing.ab_decision_at, mailing.ab_test_sent_at + timedelta(hours=4))
        self._click(mailing.trace_ids.filtered(lambda t: t.variant_id == c)[:3])
        self._click(mailing.trace_ids.filtered(lambda t: t.variant_id == b)[:5])
        self.assertEqual((b.clicked_count, c.clicked_count), (5, 3))
        self.assertAlmostEqual(b.click_rate, 25.0)
        with freeze_time(start + timedelta(hours=3, minutes=59)):
            self._run_cron()
        self.assertEqual(mailing.state, "testing")
        with freeze_time(start + timedelta(hours=4, minutes=1)):
            self._run_cron()
        self.assertEqual(mailing.ab_winner_variant_id, b)
        self.assertTrue(b.is_winner)
        self.assertEqual(mailing.state, "done")
        traces = mailing.trace_ids
        self.assertEqual(len(traces), 200)
        self.assertEqual(sorted(traces.mapped("res_id")), sorted(self.contacts.ids), "one trace per recipient")
        rest = traces.filtered(lambda t: not t.ab_sample)
        self.assertEqual(len(rest), 140)
        self.assertEqual(set(rest.mapped("body")), {BODY_B})
        self.assertEqual(set(rest.mapped("variant_id")), {b})
        self.assertEqual(b.rest_count, 140)
        self.assertEqual(b.sample_count, 20, "the test figures stay those of the test share")
        self.assertTrue(any("Version B won" in body for body in mailing.message_ids.mapped("body")))

    def test_fewest_optouts_and_ties_keep_version_a(self):
        mailing = self._start(self._make_ab_mailing(share=30, metric="optout", ab_decision_hours=4))
        a, b, _c = self._versions(mailing)
        self._run_cron()
        self.assertEqual(mailing.state, "testing")
        # no answer at all: a tie, the original text wins
        self.assertEqual(self.env["sms.marketing.mailing.variant"]._pick_winner(mailing), a)
        mailing.trace_ids.filtered(lambda t: t.variant_id == a)[:2].write({"optout_at": fields.Datetime.now()})
        a.invalidate_recordset()
        self.assertEqual(self.env["sms.marketing.mailing.variant"]._pick_winner(mailing), b)

    def test_chosen_by_hand_once(self):
        mailing = self._start(self._make_ab_mailing(share=30, metric="manual", ab_decision_hours=0))
        _a, _b, c = self._versions(mailing)
        with self.assertRaises(UserError):
            c.action_choose_winner()  # the test share is not sent yet
        self._run_cron()
        self.assertEqual(mailing.state, "testing")
        self.assertFalse(mailing.ab_decision_at, "no deadline: the marketer decides")
        self._run_cron()
        self.assertEqual(mailing.state, "testing", "a manual test never decides by itself")
        c.with_user(self.user_marketing).action_choose_winner()
        self.assertEqual(mailing.state, "sending")
        with self.assertRaises(UserError):
            c.action_choose_winner()
        self._run_cron()
        self.assertEqual(mailing.state, "done")
        self.assertEqual(set(mailing.trace_ids.filtered(lambda t: not t.ab_sample).mapped("body")), {BODY_C})

    def test_a_number_of_the_test_share_is_not_texted_again(self):
        twin = self._make_contacts(1, start=0)  # same number as contacts[0]
        mailing = self._start(self._make_ab_mailing(share=100, metric="manual"))
        self._run_cron()
        sample = mailing.trace_ids
        self.assertEqual(len(sample), 200, "100%: the whole audience is the test (the twin is a duplicate)")
        self._versions(mailing)[0].action_choose_winner()
        self._run_cron()
        twin_trace = mailing.trace_ids.filtered(lambda t: t.res_id == twin.id)
        self.assertEqual(twin_trace.state, "canceled")
        self.assertEqual(twin_trace.failure_type, "duplicate")
        self.assertEqual(len(mailing.trace_ids.filtered(lambda t: t.state != "canceled")), 200)

    def test_send_checks_and_locks(self):
        mailing = self._make_ab_mailing(share=1, bodies=(BODY_B, BODY_C, "Third", "Fourth"))
        with self.assertRaisesRegex(UserError, "does not reach each"):
            mailing._check_can_send()
        mailing.ab_test_share = 10
        self._versions(mailing)[2].own_body = "  "
        with self.assertRaisesRegex(UserError, "has no text"):
            mailing._check_can_send()
        self._versions(mailing)[2:].unlink()
        mailing._check_can_send()
        mailing.action_send_now()
        self._versions(mailing)[1].own_body = "changed while scheduled"
        self.env["sms.marketing.engine"]._wake_due_mailings()
        self.assertEqual(mailing.state, "sending")
        with self.assertRaises(UserError):
            self._versions(mailing)[1].own_body = "changed after Send"
        with self.assertRaises(UserError):
            mailing.ab_test_share = 50
        with self.assertRaises(UserError):
            self._versions(mailing)[0].with_context(sms_marketing_ab_reset=True).unlink()

    def test_share_of_a_small_audience_that_takes_everyone_is_refused(self):
        """70 % of 3 recipients, rounded up, is all 3: nobody would be left for the winner."""
        small = self.env["sms.marketing.list"].create({"name": "Three"})
        self._make_contacts(3, start=1000, sms_list=small)
        mailing = self._make_ab_mailing(share=70, bodies=(BODY_B,), list_ids=[(6, 0, small.ids)])
        with self.assertRaisesRegex(UserError, "nobody would be left for the winner"):
            mailing._check_can_send()
        mailing.ab_test_share = 60  # 2 of 3: one per version, one left for the winner
        mailing._check_can_send()
        mailing.ab_test_share = 100  # everyone, chosen as such: a plain split of the audience
        mailing._check_can_send()

    def test_estimate_is_the_costliest_version(self):
        long_text = "x" * 200  # two parts
        mailing = self._make_ab_mailing(share=10, bodies=(long_text,))
        estimate = mailing._get_credit_estimate(mailing._get_gateway())
        prices = mailing._get_gateway()._get_prices()
        price = prices.get("BE", prices.get(False))
        self.assertAlmostEqual(estimate["credits"], 200 * 2 * price)
        self.assertEqual((estimate["segments_min"], estimate["segments_max"]), (1, 2))
        self.assertEqual(self._versions(mailing)[1].sms_segments, 2)

    def test_form_starts_versions_a_and_b(self):
        form = Form(self.env["sms.marketing.mailing"].with_user(self.user_marketing))
        form.subject = "A/B from the form"
        form.list_ids.add(self.sms_list)
        form.body = BODY_A
        form.ab_testing = True
        self.assertEqual(len(form.variant_ids), 2)
        with form.variant_ids.edit(1) as version_b:
            version_b.own_body = BODY_B
        mailing = form.save()
        a, b = self._versions(mailing)
        self.assertEqual((a.body, b.body), (BODY_A, BODY_B))
        mailing.body = "New text of A"
        self.assertEqual(a.body, "New text of A")

    def test_test_sms_of_a_chosen_version(self):
        mailing = self._make_ab_mailing()
        _a, b, _c = self._versions(mailing)
        wizard = self.env["sms.marketing.mailing.test"].create(
            {"mailing_id": mailing.id, "numbers": "+32470123466", "variant_id": b.id}
        )
        wizard.action_send()
        self.assertIn(BODY_B, wizard.result_html)
        self.assertNotIn(BODY_A, wizard.result_html)
        self.assertFalse(mailing.trace_ids)

    def test_non_clickers_of_an_ab_test_get_the_winning_text(self):
        mailing = self._start(self._make_ab_mailing(share=30, metric="manual", body="Sale https://shop.example.com"))
        self._run_cron()
        _a, b, _c = self._versions(mailing)
        b.action_choose_winner()
        self._run_cron()
        self.assertEqual(mailing.state, "done")
        action = mailing.action_resend_to_non_clickers()
        copy = self.env["sms.marketing.mailing"].browse(action["res_id"])
        self.assertFalse(copy.ab_testing)
        self.assertFalse(copy.variant_ids)
        self.assertEqual(copy.body, BODY_B)
        # and saved as a template, it is the winning text that is kept
        action = mailing.action_save_as_template()
        self.assertEqual(self.env["sms.marketing.template"].browse(action["res_id"]).body, BODY_B)
