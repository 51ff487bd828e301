from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import SmsMarketingAudienceCase

ENGAGEMENT_FIELDS = {
    "sms_last_received_at": "Last SMS Received",
    "sms_last_click_at": "Last SMS Click",
    "sms_received_30d_count": "SMS Received (30 Days)",
    "sms_clicked_90d": "Clicked (90 Days)",
    "sms_last_failure_at": "Last Delivery Failure",
    "sms_received_mailing_ids": "Received Mailing",
    "sms_clicked_mailing_ids": "Clicked Mailing",
}


class EngagementCase(SmsMarketingAudienceCase):
    """Mailings sent at chosen dates to contacts and partners, with clicks at chosen dates."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.now = fields.Datetime.now()
        cls.Mailing = cls.env["sms.marketing.mailing"]
        cls.mailing_1 = cls.Mailing.create({"subject": "Engagement one", "body": "Hi", "state": "done"})
        cls.mailing_2 = cls.Mailing.create({"subject": "Engagement two", "body": "Hi", "state": "done"})

    @classmethod
    def _days_ago(cls, days, hours=0):
        return cls.now - timedelta(days=days, hours=hours)

    @classmethod
    def _trace(cls, mailing, record, state="sent", sent_at=None, failed_at=None):
        trace = cls.env["sms.marketing.trace"].create(
            {
                "mailing_id": mailing.id,
                "res_model": record._name,
                "res_id": record.id,
                "number": "+12025550100",
                "state": state,
                "sent_at": sent_at,
            }
        )
        if failed_at:
            trace.flush_recordset()
            cls.env.cr.execute(
                "UPDATE sms_marketing_trace SET write_date = %s, failed_at = %s WHERE id = %s",
                (failed_at, failed_at, trace.id),
            )
            trace.invalidate_recordset()
        return trace

    @classmethod
    def _click(cls, trace, click_date):
        link = cls.env["sms.marketing.link"].search([("mailing_id", "=", trace.mailing_id.id)], limit=1)
        link = link or cls.env["sms.marketing.link"].create(
            {"url": "https://shop.example.com", "mailing_id": trace.mailing_id.id}
        )
        return cls.env["sms.marketing.link.click"].create(
            {"link_id": link.id, "trace_id": trace.id, "click_date": click_date}
        )


@tagged("post_install", "-at_install")
class TestEngagementFields(EngagementCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contacts = cls._create_contacts([(f"Eng {i}", f"+1 202-555-01{i:02d}", None) for i in range(6)])
        c0, c1, c2, c3, c4, c5 = cls.contacts
        # c0: nothing at all
        # c1: received twice in 30 days (29 days and 1 hour ago), clicked 89 days ago
        cls.t1a = cls._trace(cls.mailing_1, c1, "delivered", cls._days_ago(29))
        cls.t1b = cls._trace(cls.mailing_2, c1, "sent", cls._days_ago(0, 1))
        cls._click(cls.t1a, cls._days_ago(89))
        # c2: received 31 days ago only (out of the 30 days), clicked 91 days ago (out of the 90)
        cls.t2 = cls._trace(cls.mailing_1, c2, "sent", cls._days_ago(31))
        cls._click(cls.t2, cls._days_ago(91))
        # c3: one failed (reported 3 days ago) and one canceled: received nothing
        cls._trace(cls.mailing_1, c3, "failed", cls._days_ago(5), failed_at=cls._days_ago(3))
        cls._trace(cls.mailing_2, c3, "canceled")
        # c4: received mailing 2 (10 days ago) and clicked it today; an older failure
        cls.t4 = cls._trace(cls.mailing_2, c4, "delivered", cls._days_ago(10))
        cls._click(cls.t4, cls._days_ago(0, 2))
        cls._trace(cls.mailing_1, c4, "failed", None, failed_at=cls._days_ago(40))
        # c5: still pending (not received)
        cls._trace(cls.mailing_2, c5, "pending")

    def _search(self, *domain, model=None):
        records = model or self.contacts
        return records.search([("id", "in", records.ids), *domain])

    def test_compute(self):
        c0, c1, c2, c3, c4, c5 = self.contacts
        self.assertEqual(self.contacts.mapped("sms_received_30d_count"), [0, 2, 0, 0, 1, 0], "29 days in, 31 days out")
        self.assertEqual(self.contacts.mapped("sms_clicked_90d"), [False, True, False, False, True, False])
        self.assertEqual(c1.sms_last_received_at, self.t1b.sent_at)
        self.assertEqual(c2.sms_last_received_at, self.t2.sent_at)
        self.assertFalse(c0.sms_last_received_at or c3.sms_last_received_at or c5.sms_last_received_at)
        self.assertEqual(c1.sms_last_click_at, self._days_ago(89))
        self.assertEqual(c4.sms_last_click_at, self._days_ago(0, 2))
        self.assertEqual(c3.sms_last_failure_at, self._days_ago(3))
        self.assertEqual(c4.sms_last_failure_at, self._days_ago(40))
        self.assertFalse(c1.sms_last_failure_at)
        self.assertEqual(c1.sms_received_mailing_ids, self.mailing_1 | self.mailing_2)
        self.assertEqual(c1.sms_clicked_mailing_ids, self.mailing_1)
        self.assertEqual(c3.sms_received_mailing_ids, self.Mailing, "failed and canceled are not received")
        self.assertEqual(c4.sms_clicked_mailing_ids, self.mailing_2)
        self.assertFalse(c0.sms_received_mailing_ids or c0.sms_clicked_mailing_ids)

    def test_search_dates(self):
        c0, c1, c2, c3, c4, c5 = self.contacts
        since = self._days_ago(15)
        field = "sms_last_received_at"
        self.assertEqual(self._search((field, ">", since)), c1 | c4)
        self.assertEqual(self._search((field, ">=", self.t4.sent_at)), c1 | c4)
        self.assertEqual(self._search((field, "<", since)), c2, "the last date counts: c1 received again since")
        self.assertEqual(self._search((field, "<=", self.t4.sent_at)), c2 | c4)
        self.assertEqual(self._search((field, "=", self.t4.sent_at)), c4)
        self.assertEqual(self._search((field, "!=", self.t4.sent_at)), self.contacts - c4, "no date is different")
        self.assertEqual(self._search((field, "=", False)), c0 | c3 | c5)
        self.assertEqual(self._search((field, "!=", False)), c1 | c2 | c4)
        # a date as the domain editor writes it
        self.assertEqual(self._search((field, ">", fields.Datetime.to_string(since))), c1 | c4)
        self.assertEqual(self._search(("sms_last_click_at", ">", self._days_ago(30))), c4)
        self.assertEqual(self._search(("sms_last_click_at", "<", self._days_ago(30))), c1 | c2)
        self.assertEqual(self._search(("sms_last_click_at", "=", False)), c0 | c3 | c5)
        self.assertEqual(self._search(("sms_last_failure_at", ">", self._days_ago(4))), c3)
        self.assertEqual(self._search(("sms_last_failure_at", "<", self._days_ago(4))), c4)
        self.assertEqual(self._search(("sms_last_failure_at", "!=", False)), c3 | c4)
        self.assertEqual(self._search(("sms_last_failure_at", "=", False)), c0 | c1 | c2 | c5)

    def test_search_count(self):
        c0, c1, c2, c3, c4, c5 = self.contacts
        field = "sms_received_30d_count"
        self.assertEqual(self._search((field, "=", 0)), c0 | c2 | c3 | c5, "no trace counts 0")
        self.assertEqual(self._search((field, "=", False)), c0 | c2 | c3 | c5)
        self.assertEqual(self._search((field, "<", 2)), self.contacts - c1)
        self.assertEqual(self._search((field, "<=", 1)), self.contacts - c1)
        self.assertEqual(self._search((field, ">", 0)), c1 | c4)
        self.assertEqual(self._search((field, ">=", 2)), c1)
        self.assertEqual(self._search((field, "=", 1)), c4)
        self.assertEqual(self._search((field, "!=", 1)), self.contacts - c4)
        self.assertEqual(self._search((field, "!=", 0)), c1 | c4)
        self.assertEqual(self._search((field, ">", -1)), self.contacts)

    def test_search_clicked(self):
        c0, c1, c2, c3, c4, c5 = self.contacts
        self.assertEqual(self._search(("sms_clicked_90d", "=", True)), c1 | c4, "89 days in, 91 days out")
        self.assertEqual(self._search(("sms_clicked_90d", "!=", False)), c1 | c4)
        self.assertEqual(self._search(("sms_clicked_90d", "=", False)), c0 | c2 | c3 | c5)
        self.assertEqual(self._search(("sms_clicked_90d", "!=", True)), c0 | c2 | c3 | c5)

    def test_search_mailings(self):
        c0, c1, c2, c3, c4, c5 = self.contacts
        received, clicked = "sms_received_mailing_ids", "sms_clicked_mailing_ids"
        m1, m2 = self.mailing_1, self.mailing_2
        self.assertEqual(self._search((received, "in", m1.ids)), c1 | c2)
        self.assertEqual(self._search((received, "=", m2.id)), c1 | c4)
        self.assertEqual(self._search((received, "in", (m1 | m2).ids)), c1 | c2 | c4)
        self.assertEqual(self._search((received, "not in", m1.ids)), c0 | c3 | c4 | c5)
        self.assertEqual(self._search((received, "!=", m2.id)), c0 | c2 | c3 | c5)
        self.assertEqual(self._search((received, "=", False)), c0 | c3 | c5)
        self.assertEqual(self._search((received, "!=", False)), c1 | c2 | c4)
        self.assertEqual(self._search((received, "in", [])), self.contacts.browse())
        self.assertEqual(self._search((received, "not in", [])), self.contacts)
        self.assertEqual(self._search((received, "ilike", "ement tw")), c1 | c4)
        self.assertEqual(self._search((f"{received}.subject", "=", "Engagement one")), c1 | c2)
        self.assertEqual(self._search((received, "any", [("subject", "=", "Engagement two")])), c1 | c4)
        self.assertEqual(self._search((clicked, "not any", [("subject", "=", "Engagement two")])), self.contacts - c4)
        self.assertEqual(self._search((clicked, "in", m1.ids)), c1 | c2)
        self.assertEqual(self._search((clicked, "not in", m2.ids)), self.contacts - c4)
        self.assertEqual(self._search((clicked, "=", False)), c0 | c3 | c5)
        # "received mailing 1 and did not click it"; c2 clicked long ago, but did click
        self.assertEqual(self._search((received, "in", m1.ids), (clicked, "not in", m1.ids)), self.contacts.browse())
        self.assertEqual(self._search((received, "in", m2.ids), (clicked, "not in", m2.ids)), c1)

    def test_search_agrees_with_compute(self):
        """Every operator of the domain editor selects exactly the records whose computed value satisfies it."""
        checks = {
            "sms_last_received_at": [self.t4.sent_at, self._days_ago(15), False],
            "sms_last_click_at": [self._days_ago(89), self._days_ago(30), False],
            "sms_last_failure_at": [self._days_ago(3), self._days_ago(10), False],
            "sms_received_30d_count": [0, 1, 2, 3],
        }
        compare = {
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            "<": lambda a, b: a is not False and a < b,
            "<=": lambda a, b: a is not False and a <= b,
            ">": lambda a, b: a is not False and a > b,
            ">=": lambda a, b: a is not False and a >= b,
        }
        for name, values in checks.items():
            for value in values:
                for operator, test in compare.items():
                    if value is False and operator not in ("=", "!="):
                        continue
                    with self.subTest(field=name, operator=operator, value=value):
                        expected = self.contacts.filtered(lambda c, n=name, t=test, v=value: t(c[n], v))
                        self.assertEqual(self._search((name, operator, value)), expected)

    def test_unsupported_operator(self):
        for leaf in (
            ("sms_received_30d_count", "ilike", "2"),
            ("sms_received_30d_count", "=", "two"),
            ("sms_last_received_at", "in", ["2024-01-01"]),
            ("sms_last_received_at", "<", False),
            ("sms_last_received_at", ">", "not a date"),
            ("sms_clicked_90d", ">", True),
            ("sms_received_mailing_ids", "child_of", [1]),
        ):
            with self.subTest(leaf=leaf), self.assertRaises(UserError):
                self._search(leaf)

    def test_partners(self):
        Partner = self.env["res.partner"]
        p0, p1, p2 = Partner.create(
            [{"name": f"Engaged partner {i}", "mobile": f"+1 202-555-02{i:02d}"} for i in range(3)]
        )
        partners = p0 | p1 | p2
        trace = self._trace(self.mailing_1, p1, "delivered", self._days_ago(2))
        self._click(trace, self._days_ago(1))
        self._trace(self.mailing_2, p2, "sent", self._days_ago(45))
        self._trace(self.mailing_1, p2, "failed", failed_at=self._days_ago(6))
        # a contact with the id of p1 (other model): its traces are not p1's
        contact = self.contacts.browse(p1.id).exists()
        if contact:
            self.assertNotEqual(contact.sms_last_received_at, trace.sent_at)
        self.assertEqual(partners.mapped("sms_received_30d_count"), [0, 1, 0])
        self.assertEqual(partners.mapped("sms_clicked_90d"), [False, True, False])
        self.assertEqual(p1.sms_last_click_at, self._days_ago(1))
        self.assertEqual(p2.sms_last_failure_at, self._days_ago(6))
        self.assertEqual(p2.sms_received_mailing_ids, self.mailing_2)
        search = lambda *domain: self._search(*domain, model=partners)  # noqa: E731
        self.assertEqual(search(("sms_last_received_at", "<", self._days_ago(30))), p2)
        self.assertEqual(search(("sms_last_received_at", "=", False)), p0)
        self.assertEqual(search(("sms_received_30d_count", "<", 1)), p0 | p2)
        self.assertEqual(search(("sms_clicked_90d", "=", False)), p0 | p2)
        self.assertEqual(search(("sms_last_click_at", "!=", False)), p1)
        self.assertEqual(search(("sms_last_failure_at", ">", self._days_ago(7))), p2)
        self.assertEqual(search(("sms_received_mailing_ids", "in", self.mailing_1.ids)), p1)
        self.assertEqual(search(("sms_clicked_mailing_ids", "not in", self.mailing_1.ids)), p0 | p2)

    def test_plain_names_for_marketers_only(self):
        for model in ("sms.marketing.contact", "res.partner"):
            described = self.env[model].with_user(self.user_marketing).fields_get(list(ENGAGEMENT_FIELDS))
            self.assertEqual({name: desc["string"] for name, desc in described.items()}, ENGAGEMENT_FIELDS)
            self.assertTrue(all(desc["searchable"] for desc in described.values()), model)
        hidden = self.env["res.partner"].with_user(self.user_employee).fields_get(list(ENGAGEMENT_FIELDS))
        self.assertFalse(hidden, "an employee without SMS marketing does not see them on partners")
        mailing = self.Mailing.with_user(self.user_employee).browse()
        with self.assertRaises(ValidationError):
            mailing.env["sms.marketing.audience"]._check_filter_field_access(
                self.env["res.partner"].with_user(self.user_employee), [("sms_clicked_90d", "=", True)]
            )


@tagged("post_install", "-at_install")
class TestEngagementAccess(EngagementCase):
    def test_other_company_traces_are_not_read(self):
        """A marketer of company B neither finds company A's contacts nor the mailings of A on a shared partner."""
        contact_a = self._create_contacts([("In A", "+1 202-555-0301", None)])
        contact_b = self.env["sms.marketing.contact"].create(
            {"name": "In B", "phone": "+1 202-555-0302", "company_id": self.company_b.id}
        )
        shared = self.env["res.partner"].create({"name": "Shared", "mobile": "+1 202-555-0303"})
        mailing_a = self.Mailing.create({"subject": "A only", "body": "Hi", "state": "done"})
        mailing_b = self.Mailing.create(
            {"subject": "B only", "body": "Hi", "state": "done", "company_id": self.company_b.id}
        )
        self._trace(mailing_a, contact_a, "sent", self._days_ago(1))
        self._trace(mailing_b, contact_b, "sent", self._days_ago(1))
        self._trace(mailing_a, shared, "sent", self._days_ago(1))
        Contact = self.env["sms.marketing.contact"].with_user(self.marketer_b)
        found = Contact.search([("sms_last_received_at", "!=", False), ("id", "in", (contact_a | contact_b).ids)])
        self.assertEqual(found, contact_b.with_user(self.marketer_b))
        self.assertFalse(Contact.search([("sms_received_mailing_ids", "in", mailing_a.ids)]))
        Partner = self.env["res.partner"].with_user(self.marketer_b)
        self.assertTrue(Partner.browse(shared.id).name, "the shared partner is readable in B")
        self.assertFalse(Partner.search([("id", "=", shared.id), ("sms_last_received_at", "!=", False)]))
        self.assertEqual(Partner.search([("id", "=", shared.id), ("sms_received_30d_count", "=", 0)]), shared)
        self.assertFalse(Partner.browse(shared.id).sms_last_received_at, "computed with B's rights too")
        # its click and failure in A: B's marketer finds neither (the summary's rows of A are not B's)
        clicked_a = self.Mailing.create({"subject": "A clicked", "body": "Hi", "state": "done"})
        failed_a = self.Mailing.create({"subject": "A failed", "body": "Hi", "state": "done"})
        self._click(self._trace(clicked_a, shared, "delivered", self._days_ago(2)), self._days_ago(1))
        self._trace(failed_a, shared, "failed", failed_at=self._days_ago(1))
        for leaf in (
            ("sms_last_click_at", "!=", False),
            ("sms_clicked_90d", "=", True),
            ("sms_last_failure_at", ">", self._days_ago(3)),
        ):
            with self.subTest(leaf=leaf):
                self.assertFalse(Partner.search([("id", "=", shared.id), leaf]))
                self.assertTrue(
                    self.env["res.partner"].with_user(self.user_marketing).search([("id", "=", shared.id), leaf])
                )
        # the marketer of A sees it
        Partner_a = self.env["res.partner"].with_user(self.user_marketing)
        self.assertEqual(
            Partner_a.search([("id", "=", shared.id), ("sms_received_mailing_ids", "=", mailing_a.id)]), shared
        )


@tagged("post_install", "-at_install")
class TestEngagementSummary(EngagementCase):
    """Each recipient's last click and failure (``sms.marketing.engagement.summary``) stays what the clicks and
    failed traces say, whoever writes them."""

    def _summary(self):
        """{(model, id, company id): (last click, last failure)} as the filters read it (a recipient's rows
        in one company: their last dates)."""
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT res_model, res_id, company_id, max(last_click_at), max(last_failure_at)
                 FROM sms_marketing_engagement_summary GROUP BY res_model, res_id, company_id"""
        )
        return {
            (model, res_id, company): (click, failure)
            for model, res_id, company, click, failure in self.env.cr.fetchall()
        }

    def _expected(self):
        """The same, from every click and failed trace (through the ORM, a recount)."""
        self.env.flush_all()
        self.env.invalidate_all()
        expected = {}

        def keep(record, date, position):
            key = (record.res_model, record.res_id, record.mailing_id.company_id.id or None)
            dates = expected.setdefault(key, [None, None])
            dates[position] = max(date, dates[position] or date)

        for click in self.env["sms.marketing.link.click"].search([("res_id", "!=", False)]):
            keep(click, click.click_date, 0)
        for trace in self.env["sms.marketing.trace"].search([("failed_at", "!=", False)]):
            keep(trace, trace.failed_at, 1)
        return {key: tuple(dates) for key, dates in expected.items()}

    def test_the_summary_follows_every_writer(self):
        a, b, c = self._create_contacts([(f"Summary {i}", f"+1 202-555-06{i:02d}", None) for i in range(3)])
        company = self.mailing_1.company_id.id
        t1 = self._trace(self.mailing_1, a, "delivered", self._days_ago(5))
        t2 = self._trace(self.mailing_2, a, "delivered", self._days_ago(2))
        steps = {
            "a click (ORM)": lambda: self._click(t1, self._days_ago(4)),
            "a later click": lambda: self._click(t2, self._days_ago(1)),
            "a failure (ORM)": lambda: self._trace(self.mailing_1, b, "failed"),
            "a failure dated (SQL)": lambda: self._trace(self.mailing_2, b, "failed", failed_at=self._days_ago(3)),
            "the later click deleted": lambda: self.env["sms.marketing.link.click"]
            .search([("trace_id", "=", t2.id)])
            .unlink(),
            "a failed trace delivered after all": lambda: self.env["sms.marketing.trace"]
            .search([("res_id", "=", b.id), ("mailing_id", "=", self.mailing_1.id)])
            .write({"state": "delivered"}),
            "a delivered trace failed (SQL, as a delivery report)": lambda: self.env.cr.execute(
                "UPDATE sms_marketing_trace SET state = 'failed' WHERE id = %s", [t1.id]
            ),
            # its click stays a's (a click keeps the recipient it had)
            "a failed trace given to another recipient (SQL)": lambda: self.env.cr.execute(
                "UPDATE sms_marketing_trace SET res_id = %s WHERE id = %s", [c.id, t1.id]
            ),
            # a sent mailing's company is not changed through the form: an administrator's SQL
            "a mailing moved to another company": lambda: self.env.cr.execute(
                "UPDATE sms_marketing_mailing SET company_id = %s WHERE id = %s", [self.company_b.id, self.mailing_2.id]
            ),
            "a click's date written": lambda: self.env["sms.marketing.link.click"]
            .search([("trace_id", "=", t1.id)])
            .write({"click_date": self._days_ago(10)}),
            "a mailing deleted": lambda: self.mailing_1.unlink(),
        }
        for step, write in steps.items():
            with self.subTest(step=step):
                write()
                self.assertEqual(self._summary(), self._expected())
        # what those steps left: a's click of mailing 1 went with it, b's failure of mailing 2 moved to company B
        self.assertNotIn(("sms.marketing.contact", a.id, company), self._summary())
        self.assertEqual(self._summary()[("sms.marketing.contact", b.id, self.company_b.id)][1], self._days_ago(3))

    def test_the_fold_keeps_one_row_per_recipient(self):
        contact = self._create_contacts([("Folded", "+1 202-555-0610", None)])
        # dated after its creation: a failure that moved is recomputed, one row
        self._trace(self.mailing_2, contact, "failed", failed_at=self._days_ago(6))
        for days in (9, 5, 7):
            mailing = self.Mailing.create({"subject": f"Fold {days}", "body": "Hi", "state": "done"})
            trace = self._trace(mailing, contact, "delivered", self._days_ago(days))
            self._click(trace, self._days_ago(days - 1))
        self.env.flush_all()
        key = ("sms.marketing.contact", contact.id)
        count = "SELECT count(*) FROM sms_marketing_engagement_summary WHERE res_model = %s AND res_id = %s"
        self.env.cr.execute(count, key)
        self.assertEqual(self.env.cr.fetchone()[0], 4, "insert-only: a row per statement that added one")
        before = self._summary()
        self.env["sms.marketing.campaign.report"]._cron_fold_figures()
        self.env.cr.execute(count, key)
        self.assertEqual(self.env.cr.fetchone()[0], 1)
        self.assertEqual(self._summary(), before)
        self.assertEqual(before[(*key, self.mailing_1.company_id.id)], (self._days_ago(4), self._days_ago(6)))

    def test_an_upgrade_fills_the_summary_and_repairs_it(self):
        """The release before this table: the upgrade (its init) fills it from the clicks and failed traces; a
        later upgrade repairs what the triggers did not see (here: a row written with them off, a row lost)."""
        contact = self._create_contacts([("Upgraded", "+1 202-555-0611", None)])
        self._click(self._trace(self.mailing_1, contact, "delivered", self._days_ago(3)), self._days_ago(2))
        self._trace(self.mailing_2, contact, "failed", failed_at=self._days_ago(1))
        self.env.flush_all()
        self.env.cr.execute("DELETE FROM sms_marketing_engagement_summary")
        self.env["sms.marketing.engagement.summary"].init()
        self.assertEqual(self._summary(), self._expected())
        self.env.cr.execute(
            """INSERT INTO sms_marketing_engagement_summary (res_model, res_id, company_id, last_click_at)
               VALUES ('sms.marketing.contact', %s, %s, %s)""",
            [contact.id, self.mailing_1.company_id.id, self.now],
        )
        self.env.cr.execute(
            "DELETE FROM sms_marketing_engagement_summary WHERE last_failure_at IS NOT NULL AND res_id = %s",
            [contact.id],
        )
        self.assertNotEqual(self._summary(), self._expected())
        self.env["sms.marketing.engagement.summary"].init()
        self.assertEqual(self._summary(), self._expected())
        self.assertIn(("sms.marketing.contact", contact.id, self.mailing_1.company_id.id), self._summary())
        Contact = self.env["sms.marketing.contact"].with_user(self.user_marketing)
        for leaf in (
            ("sms_last_click_at", "!=", False),
            ("sms_clicked_90d", "=", True),
            ("sms_last_failure_at", ">", self._days_ago(2)),
        ):
            with self.subTest(leaf=leaf):
                self.assertIn(contact.id, Contact.search([leaf, ("id", "=", contact.id)]).ids)


@tagged("post_install", "-at_install")
class TestResendNonClickers(EngagementCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sms_list = cls.env["sms.marketing.list"].create({"name": "Resend list"})
        cls.contacts = cls._create_contacts(
            [(f"Resend {i}", f"+1 202-555-04{i:02d}", None) for i in range(6)], cls.sms_list
        )
        cls.outsider = cls._create_contacts([("Not in the list", "+1 202-555-0499", None)])
        cls.sent = cls.Mailing.with_user(cls.user_marketing).create(
            {
                "subject": "Flash sale",
                "body": "Sale https://shop.example.com",
                "list_ids": [(6, 0, cls.sms_list.ids)],
                "domain": "[('name', '!=', 'Resend 5')]",
            }
        )
        c0, c1, c2, c3, c4, c5 = cls.contacts
        traces = {
            contact: cls._trace(cls.sent, contact, state, cls._days_ago(1) if state != "canceled" else None)
            for contact, state in ((c0, "delivered"), (c1, "delivered"), (c2, "sent"), (c3, "failed"), (c4, "canceled"))
        }
        # the outsider got it too (was in the list then), and did not click
        cls._trace(cls.sent, cls.outsider, "delivered", cls._days_ago(1))
        cls._click(traces[c0], cls._days_ago(0, 5))
        # c1 clicked another mailing only
        other = cls._trace(cls.mailing_1, c1, "delivered", cls._days_ago(3))
        cls._click(other, cls._days_ago(2))
        cls.sent.write({"state": "done"})
        # c5 joins the list after the sending: never received it

    def _audience(self, mailing):
        self.env.cr.execute(mailing.env["sms.marketing.audience"]._get_recipients_query(mailing))
        return {row[0] for row in self.env.cr.fetchall()}

    def test_resend_audience_is_the_non_clickers(self):
        c0, c1, c2, c3, c4, c5 = self.contacts
        sent = self.sent.with_user(self.user_marketing)
        self.assertTrue(sent.can_resend_non_clickers)
        action = sent.action_resend_to_non_clickers()
        draft = self.Mailing.browse(action["res_id"])
        self.assertEqual((action["res_model"], action["view_mode"]), ("sms.marketing.mailing", "form"))
        self.assertEqual(draft.state, "draft")
        self.assertEqual(draft.subject, "Flash sale (did not click)")
        self.assertEqual(draft.list_ids, self.sms_list)
        self.assertEqual(draft.body, self.sent.body)
        self.assertIn("('name', '!=', 'Resend 5')", draft.domain, "the original filter is kept as written")
        self.assertFalse(draft.sender_id)
        # received it (c0 clicked; c3 failed, c4 canceled, c5 never got it; the outsider left the list)
        self.assertEqual(self._audience(draft.with_user(self.user_marketing)), {c1.id, c2.id})
        self.assertEqual(draft.with_user(self.user_marketing).audience_total, 2)
        # the original filter still applies: c2 renamed out of it
        c2.name = "Resend 5"
        self.assertEqual(self._audience(draft.with_user(self.user_marketing)), {c1.id})

    def test_resend_partners(self):
        partner_model = self.env["ir.model"]._get("res.partner")
        partners = self.env["res.partner"].create(
            [{"name": f"Resend partner {i}", "mobile": f"+1 202-555-05{i:02d}"} for i in range(3)]
        )
        mailing = self.Mailing.create(
            {
                "subject": "Partners",
                "body": "Hi https://shop.example.com",
                "recipient_model_id": partner_model.id,
                "domain": f"[('id', 'in', {partners.ids})]",
            }
        )
        traces = [self._trace(mailing, partner, "delivered", self._days_ago(1)) for partner in partners]
        self._click(traces[0], self._days_ago(0, 1))
        mailing.state = "done"
        draft = self.Mailing.browse(mailing.with_user(self.user_marketing).action_resend_to_non_clickers()["res_id"])
        self.assertEqual(draft.recipient_model_id, partner_model)
        self.assertFalse(draft.list_ids)
        self.assertEqual(self._audience(draft.with_user(self.user_marketing)), set(partners[1:].ids))

    def test_only_sent_mailings(self):
        draft = self.Mailing.with_user(self.user_marketing).create(
            {"subject": "Draft", "body": "Hi https://shop.example.com", "list_ids": [(6, 0, self.sms_list.ids)]}
        )
        self.assertFalse(draft.can_resend_non_clickers)
        with self.assertRaises(UserError):
            draft.action_resend_to_non_clickers()
        no_links = self.Mailing.create({"subject": "No links", "body": "Hi", "state": "done"})
        self.assertFalse(no_links.can_resend_non_clickers, "without tracked links nobody could click")


@tagged("post_install", "-at_install")
class TestEngagementEnabledModel(EngagementCase):
    """A model an administrator enables gets the same filters, and loses them when it is disabled."""

    def _enable_banks(self):
        config = (
            self.env["sms.marketing.recipient.model"]
            .with_user(self.user_admin)
            .create(
                {
                    "model_id": self.env["ir.model"]._get_id("res.bank"),
                    "phone_field_id": self.env["ir.model.fields"]._get("res.bank", "phone").id,
                }
            )
        )
        self.addCleanup(lambda: config.exists() and config.sudo().unlink())
        return config

    def _field_rows(self):
        return self.env["ir.model.fields"].search([("model", "=", "res.bank"), ("name", "in", list(ENGAGEMENT_FIELDS))])

    def test_enabled_model_gets_the_filters(self):
        self.assertNotIn("sms_last_received_at", self.env["res.bank"]._fields)
        config = self._enable_banks()
        Bank = self.env["res.bank"].with_user(self.user_marketing)
        described = Bank.fields_get(list(ENGAGEMENT_FIELDS))
        self.assertEqual({name: desc["string"] for name, desc in described.items()}, ENGAGEMENT_FIELDS)
        self.assertEqual(len(self._field_rows()), len(ENGAGEMENT_FIELDS), "reflected in ir.model.fields")
        banks = self.env["res.bank"].create([{"name": f"Bank {i}", "phone": f"+1 202-555-06{i:02d}"} for i in range(3)])
        trace = self._trace(self.mailing_1, banks[1], "delivered", self._days_ago(2))
        self._click(trace, self._days_ago(1))
        self._trace(self.mailing_2, banks[2], "delivered", self._days_ago(50))
        banks = banks.with_user(self.user_marketing)
        self.assertEqual(banks.mapped("sms_received_30d_count"), [0, 1, 0])
        self.assertEqual(banks[1].sms_clicked_mailing_ids, self.mailing_1)
        scope = [("id", "in", banks.ids)]
        self.assertEqual(Bank.search([*scope, ("sms_last_received_at", "=", False)]), banks[0])
        self.assertEqual(Bank.search([*scope, ("sms_received_30d_count", "<", 1)]), banks[0] | banks[2])
        self.assertEqual(Bank.search([*scope, ("sms_clicked_90d", "=", True)]), banks[1])
        # a mailing to banks can be resent to those who did not click
        mailing = self.Mailing.create(
            {
                "subject": "Banks",
                "body": "Hi https://shop.example.com",
                "recipient_model_id": config.model_id.id,
                "domain": f"[('id', 'in', {banks.ids})]",
            }
        )
        for bank in banks:
            clicked = self._trace(mailing, bank, "delivered", self._days_ago(0, 3))
        self._click(clicked, self._days_ago(0, 1))
        mailing.state = "done"
        draft = self.Mailing.browse(mailing.with_user(self.user_marketing).action_resend_to_non_clickers()["res_id"])
        as_marketer = draft.with_user(self.user_marketing)
        self.env.cr.execute(as_marketer.env["sms.marketing.audience"]._get_recipients_query(as_marketer))
        self.assertEqual({row[0] for row in self.env.cr.fetchall()}, set(banks[:2].ids))
        # disabled: the fields and their reflection are gone
        config.sudo().unlink()
        self.assertNotIn("sms_last_received_at", self.env["res.bank"]._fields)
        self.assertFalse(self._field_rows())
        self.assertIn("sms_last_received_at", self.env["res.partner"]._fields, "partners keep theirs")

    def test_uninstall_hook_removes_the_reflection(self):
        self._enable_banks()
        self.assertTrue(self._field_rows())
        from .. import uninstall_hook

        uninstall_hook(self.env)
        self.assertFalse(self._field_rows())
        self.assertEqual(
            len(
                self.env["ir.model.fields"].search(
                    [("model", "=", "res.partner"), ("name", "in", list(ENGAGEMENT_FIELDS))]
                )
            ),
            len(ENGAGEMENT_FIELDS),
            "the partners' fields are removed by the uninstall itself (they have XML ids)",
        )
        self.assertTrue(
            self.env["ir.model.fields"].search([("model", "=", "res.users"), ("name", "=", "sms_clicked_90d")]),
            "so are the ones users inherit from partners",
        )
