"""Consent log (every opt-in and opt-out, the blacklist follows its last event) and the frequency cap."""

import json
from datetime import datetime, timedelta

from freezegun import freeze_time

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, HttpCase, tagged
from odoo.tools import mute_logger

from .common import SmsEngineCase, SmsMarketingAudienceCase, load_gateway_simulator

NOW = datetime(2026, 3, 10, 12, 0, 0)


class ConsentAssertions:
    def _events(self, number):
        """[(event, source)] of ``number`` about all SMS marketing (the blacklist), oldest first."""
        events = self.env["sms.marketing.consent"].search(
            [("number", "=", number), ("list_id", "=", False)], order="id"
        )
        return [(event.event, event.source) for event in events]

    def _assert_blacklist_follows_log(self, number):
        last = self.env["sms.marketing.consent"].search(
            [("number", "=", number), ("list_id", "=", False)], order="date desc, id desc", limit=1
        )
        blacklisted = bool(self.env["sms.marketing.blacklist"].search([("number", "=", number)]))
        self.assertEqual(blacklisted, last.event == "opt_out", f"{number}: blacklist and last event disagree")


@tagged("post_install", "-at_install")
class TestConsentLog(SmsMarketingAudienceCase, ConsentAssertions):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Blacklist = cls.env["sms.marketing.blacklist"]
        cls.sms_list = cls.env["sms.marketing.list"].create({"name": "Consent list"})
        cls.contact = cls._create_contacts([("Ann", "+1 202-555-0143", None)], cls.sms_list)
        cls.subscribed_event = cls.env["sms.marketing.consent"].search([("contact_id", "=", cls.contact.id)])

    def test_blacklist_events_from_every_path(self):
        number = "+12025550143"
        gateway = self.env["sms.marketing.gateway"].create({"name": "Consent gateway"})
        self.Blacklist._add_numbers([number], "keyword", details={"gateway_id": gateway.id, "evidence": "STOP"})
        self._assert_blacklist_follows_log(number)
        self.Blacklist._remove_numbers([number], "manual")
        self._assert_blacklist_follows_log(number)
        # re-added by an import (Odoo's import screen calls load()): the archived entry comes back, with its event
        result = self.Blacklist.load(["number"], [["+1 202 555 0143"]])
        self.assertFalse(result["messages"])
        self._assert_blacklist_follows_log(number)
        self.Blacklist.search([("number", "=", number)]).action_remove()
        self._assert_blacklist_follows_log(number)
        self.assertEqual(
            self._events(number),
            [("opt_out", "keyword"), ("opt_in", "manual"), ("opt_out", "import"), ("opt_in", "manual")],
        )
        first = self.env["sms.marketing.consent"].search(
            [("number", "=", number), ("list_id", "=", False)], order="id", limit=1
        )
        self.assertEqual((first.gateway_id, first.evidence, first.company_id), (gateway, "STOP", self.env.company))
        entry = self.Blacklist.with_context(active_test=False).search([("number", "=", number)])
        blacklist_events = entry.consent_ids.filtered(lambda event: not event.list_id)
        self.assertEqual(len(blacklist_events), 4, "the blacklist entry shows the log of its number")
        self.assertLessEqual(blacklist_events | self.subscribed_event, self.contact.consent_ids, "so does the contact")

    def test_subscription_opt_out_changes_are_logged(self):
        subscription = self.contact.subscription_ids
        subscription.with_user(self.user_marketing).write({"opt_out": True})
        subscription.write({"opt_out": True})  # no change, no event
        subscription.write({"opt_out": False})
        events = self.env["sms.marketing.consent"].search(
            [("contact_id", "=", self.contact.id), ("id", ">", self.subscribed_event.id)], order="id"
        )
        self.assertEqual(events.mapped("event"), ["opt_out", "opt_in"])
        self.assertEqual(events.list_id, self.sms_list)
        self.assertEqual(events[0].user_id, self.user_marketing, "who recorded it")
        self.assertEqual(events.mapped("number"), ["+12025550143"] * 2)
        self.assertFalse(self.Blacklist.search([("number", "=", "+12025550143")]), "a list opt-out is no blacklisting")

    def test_subscriptions_from_imports_and_forms_are_opt_ins(self):
        other = self.env["sms.marketing.list"].create({"name": "Other list"})
        Contact = self.env["sms.marketing.contact"]
        result = Contact.load(
            ["name", "phone", "list_ids/.id"], [["Imported", "+1 202-555-0178", str(self.sms_list.id)]]
        )
        self.assertFalse(result["messages"])
        imported = Contact.browse(result["ids"])
        imported.write({"list_ids": [(4, other.id)]})
        imported.write({"name": "Renamed"})  # no list change, no event
        events = self.env["sms.marketing.consent"].search([("contact_id", "=", imported.id)], order="id")
        self.assertEqual(
            [(event.event, event.source, event.list_id) for event in events],
            [("opt_in", "import", self.sms_list), ("opt_in", "manual", other)],
        )
        self.assertEqual(events.mapped("number"), ["+12025550178"] * 2)

    def test_optout_link_logs_the_mailing(self):
        mailing = self.env["sms.marketing.mailing"].create(
            {"subject": "Consent", "body": "Hi", "list_ids": [(6, 0, self.sms_list.ids)]}
        )
        trace = self.env["sms.marketing.trace"].create(
            {
                "mailing_id": mailing.id,
                "res_model": "sms.marketing.contact",
                "res_id": self.contact.id,
                "number": "+12025550143",
                "state": "sent",
            }
        )
        trace._optout()
        event = self.env["sms.marketing.consent"].search(
            [("contact_id", "=", self.contact.id), ("id", ">", self.subscribed_event.id)]
        )
        self.assertEqual(
            (event.event, event.source, event.mailing_id, event.list_id),
            ("opt_out", "optout_link", mailing, self.sms_list),
        )
        self.assertIn("+12025550143", event.evidence)

    def test_log_is_append_only_and_per_company(self):
        self.Blacklist._add_numbers(["+12025550143"], "manual")
        event = self.env["sms.marketing.consent"].search([("number", "=", "+12025550143"), ("list_id", "=", False)])
        for user in (self.user_marketing, self.user_manager, self.user_admin):
            self.assertEqual(event.with_user(user).read(["event"])[0]["event"], "opt_out")
            with self.assertRaises(AccessError), mute_logger("odoo.models"):
                event.with_user(user).write({"event": "opt_in"})
            with self.assertRaises(AccessError), mute_logger("odoo.models"):
                event.with_user(user).unlink()
        self.assertEqual(
            event.with_user(self.user_manager).export_data(["number", "event"])["datas"], [["+12025550143", "Opt-out"]]
        )
        self.assertFalse(self.env["sms.marketing.consent"].with_user(self.marketer_b).search([("id", "=", event.id)]))


@tagged("post_install", "-at_install")
class TestConsentKeywordWebhook(HttpCase, ConsentAssertions):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gateway = cls.env["sms.marketing.gateway"].create({"name": "Inbound", "webhook_secret": "s3cr3t"})

    def _inbound(self, messages):
        body = json.dumps({"messages": messages}).encode()
        headers = load_gateway_simulator().signed_headers("s3cr3t", body)
        response = self.url_open(f"/sms_marketing/inbound/{self.gateway.id}", data=body, headers=headers)
        self.env.invalidate_all()
        self.assertEqual(response.status_code, 200)
        return response

    def test_keywords_are_logged_with_their_message(self):
        number = "+33612345678"
        self._inbound([{"number": number, "content": "Arrêt !"}])
        self._assert_blacklist_follows_log(number)
        self._inbound([{"number": number, "content": "start"}])
        self._assert_blacklist_follows_log(number)
        self._inbound([{"number": "+33698765432", "content": "UNSTOP"}])  # never blacklisted: still proof
        self.assertEqual(self._events(number), [("opt_out", "keyword"), ("opt_in", "keyword")])
        self.assertEqual(self._events("+33698765432"), [("opt_in", "keyword")])
        events = self.env["sms.marketing.consent"].search(
            [("number", "=", number), ("list_id", "=", False)], order="id"
        )
        self.assertEqual(events.mapped("evidence"), ["Arrêt !", "start"])
        self.assertEqual(events.gateway_id, self.gateway)


@tagged("post_install", "-at_install")
class TestFrequencyCap(SmsEngineCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contacts = cls._make_contacts(3, start=9100)
        cls.old_mailing = cls.env["sms.marketing.mailing"].create({"subject": "Earlier", "body": "Hi", "state": "done"})

    def _received(self, contact, hours_ago, state="delivered"):
        self.env["sms.marketing.trace"].create(
            {
                "mailing_id": self.old_mailing.id,
                "res_model": "sms.marketing.contact",
                "res_id": contact.id + 1000000 * len(self.old_mailing.trace_ids),
                "number": contact.phone_sanitized,
                "state": state,
                "sent_at": NOW - timedelta(hours=hours_ago),
            }
        )

    @freeze_time(NOW)
    def test_audience_counts_the_cap_with_its_precedence(self):
        self._received(self.contacts[0], 2)
        self._received(self.contacts[1], 30)  # out of the period
        self._received(self.contacts[2], 1, state="failed")  # refused: not received
        mailing = self._make_mailing(frequency_cap_count=1, frequency_cap_hours=24)
        stats = mailing.env["sms.marketing.audience"]._get_statistics(mailing)
        self.assertEqual((stats["frequency_capped"], stats["to_send"]), (1, 2))
        self.assertEqual(mailing.audience_frequency_capped, 1)
        mailing.frequency_cap_hours = 1
        self.assertEqual(mailing.env["sms.marketing.audience"]._get_statistics(mailing)["frequency_capped"], 0)
        mailing.write({"frequency_cap_hours": 24, "frequency_cap_count": 2})
        self.assertEqual(
            mailing.env["sms.marketing.audience"]._get_statistics(mailing)["frequency_capped"],
            0,
            "K=2: one SMS is not enough",
        )
        mailing.frequency_cap_count = 0
        self.assertEqual(
            mailing.env["sms.marketing.audience"]._get_statistics(mailing)["frequency_capped"], 0, "0 turns the cap off"
        )
        mailing.frequency_cap_count = 1
        self.env["sms.marketing.blacklist"]._add_numbers([self.contacts[0].phone_sanitized])
        stats = mailing.env["sms.marketing.audience"]._get_statistics(mailing)
        self.assertEqual((stats["blacklisted"], stats["frequency_capped"]), (1, 0), "blacklisted comes first")

    @freeze_time(NOW)
    def test_form_counts_before_the_mailing_exists(self):
        self._received(self.contacts[0], 2)
        form = Form(self.env["sms.marketing.mailing"])
        form.subject = "New"
        form.body = "Hi"
        form.list_ids.add(self.sms_list)
        form.frequency_cap_count = 1
        self.assertFalse(form.audience_error)
        self.assertEqual(form.audience_frequency_capped, 1)
        self.assertEqual(form.audience_to_send, 2)

    @freeze_time(NOW)
    def test_engine_cancels_with_the_reason_the_form_counted(self):
        self._received(self.contacts[0], 2)
        mailing = self._make_mailing(frequency_cap_count=1, frequency_cap_hours=24)
        counted = mailing.env["sms.marketing.audience"]._get_statistics(mailing)["frequency_capped"]
        self._start(mailing)
        self._run_cron()
        capped = mailing.trace_ids.filtered(lambda trace: trace.failure_type == "frequency_capped")
        self.assertEqual(len(capped), counted)
        self.assertEqual(capped.number, self.contacts[0].phone_sanitized)
        self.assertEqual(capped.state, "canceled")
        self.assertEqual(
            capped.failure_reason, self.env["sms.marketing.trace"]._get_failure_reasons()["frequency_capped"]
        )
        self.assertEqual(self._states(mailing), {"canceled": 1, "delivered": 2})

    @freeze_time(NOW)
    def test_two_mailings_built_together_send_once_per_number(self):
        """Both audiences were counted before either sent: the check at claim time keeps the cap."""
        first = self._make_mailing(frequency_cap_count=1, frequency_cap_hours=24)
        second = self._make_mailing(frequency_cap_count=1, frequency_cap_hours=24)
        engine = self.env["sms.marketing.engine"]
        params = engine._get_params()
        for mailing in (first, second):
            self._start(mailing)
            while not mailing.trace_build_done:
                engine._build_traces(mailing, params)
        self.assertEqual(set((first | second).trace_ids.mapped("state")), {"pending"})
        self._run_cron()
        self.assertEqual(self._states(first), {"delivered": 3})
        self.assertEqual(self._states(second), {"canceled": 3})
        self.assertEqual(set(second.trace_ids.mapped("failure_type")), {"frequency_capped"})

    def test_bad_values_are_refused(self):
        with self.assertRaisesRegex(ValidationError, "negative"):
            self._make_mailing(frequency_cap_count=-1)
        with self.assertRaisesRegex(ValidationError, "at least one hour"):
            self._make_mailing(frequency_cap_count=1, frequency_cap_hours=0)
        with self.assertRaises(ValidationError):
            self.env.company.sms_marketing_frequency_cap_count = -2

    def test_company_default(self):
        self.env.company.write({"sms_marketing_frequency_cap_count": 2, "sms_marketing_frequency_cap_hours": 12})
        mailing = self._make_mailing()
        self.assertEqual((mailing.frequency_cap_count, mailing.frequency_cap_hours), (2, 12))
