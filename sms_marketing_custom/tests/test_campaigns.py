"""SMS campaigns: figures summed over the mailings, the campaign analysis, dates, rights and companies."""

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import SmsMarketingMailingCase

FIGURES = ("recipient_count", "sent_count", "delivered_count", "failed_count", "clicked_count", "optout_count")


@tagged("post_install", "-at_install", "sms_campaigns")
class TestCampaigns(SmsMarketingMailingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Campaign = cls.env["sms.marketing.campaign"].with_user(cls.user_marketing)
        cls.campaign = Campaign.create({"name": "Spring", "date_start": "2030-03-01", "date_end": "2030-05-31"})
        cls.other_campaign = Campaign.create({"name": "Autumn"})
        Mailing = cls.env["sms.marketing.mailing"]
        cls.first = Mailing.create({"subject": "Spring 1", "body": "One", "campaign_id": cls.campaign.id})
        cls.second = Mailing.create({"subject": "Spring 2", "body": "Two", "campaign_id": cls.campaign.id})
        cls.draft = Mailing.create({"subject": "Spring draft", "body": "Three", "campaign_id": cls.campaign.id})
        cls.outside = Mailing.create({"subject": "Autumn 1", "body": "Four", "campaign_id": cls.other_campaign.id})
        # (state, sent, cost, opted out) per trace
        cls.first_traces = cls._traces(
            cls.first,
            [
                ("delivered", True, 1.0, False),
                ("delivered", True, 2.5, True),
                ("sent", True, 1.0, False),
                ("failed", True, 1.0, False),  # failed by its delivery report: sent all the same
                ("failed", False, 0.0, False),  # refused by the gateway
                ("canceled", False, 0.0, False),
            ],
        )
        cls.second_traces = cls._traces(
            cls.second,
            [("delivered", True, 3.0, False), ("pending", False, 0.0, False), ("unknown", True, 1.0, False)],
        )
        cls.outside_traces = cls._traces(cls.outside, [("delivered", True, 7.0, True)])
        # two clicks on one SMS count once; a click without an SMS (no token) does not count
        cls._click(cls.first, cls.first_traces[0])
        cls._click(cls.first, cls.first_traces[0])
        cls._click(cls.first, cls.first_traces[1])
        cls._click(cls.first, None)
        cls._click(cls.second, cls.second_traces[0])
        cls._click(cls.outside, cls.outside_traces[0])

    @classmethod
    def _traces(cls, mailing, rows):
        return cls.env["sms.marketing.trace"].create(
            [
                {
                    "mailing_id": mailing.id,
                    "res_model": "sms.marketing.contact",
                    "res_id": 1000 + index,
                    "number": f"+3247000{mailing.id:03d}{index:02d}",
                    "state": state,
                    "sent_at": "2030-03-10 10:00:00" if sent else False,
                    "cost": cost,
                    "segments": 1,
                    "optout_at": "2030-03-11 10:00:00" if optout else False,
                }
                for index, (state, sent, cost, optout) in enumerate(rows)
            ]
        )

    @classmethod
    def _click(cls, mailing, trace):
        link = cls.env["sms.marketing.link"].search([("mailing_id", "=", mailing.id)], limit=1)
        if not link:
            link = cls.env["sms.marketing.link"].create(
                {"url": f"https://example.com/{mailing.id}", "mailing_id": mailing.id}
            )
        cls.env["sms.marketing.link.click"].create({"link_id": link.id, "trace_id": trace.id if trace else False})

    def test_figures_are_the_sum_of_the_mailings(self):
        campaign = self.campaign
        mailings = self.first | self.second | self.draft
        self.assertEqual(campaign.mailing_ids, mailings)
        self.assertEqual(campaign.mailing_count, 3)
        for fname in FIGURES:
            with self.subTest(figure=fname):
                self.assertEqual(campaign[fname], sum(mailings.mapped(fname)))
        self.assertAlmostEqual(campaign.credits_spent, sum(mailings.mapped("credits_spent")))
        # and the figures themselves, so that both sides cannot be wrong together
        self.assertEqual(
            [campaign[fname] for fname in FIGURES],
            [9, 6, 3, 2, 3, 1],  # recipients, sent, delivered, failed, clicked, opted out
        )
        self.assertAlmostEqual(campaign.credits_spent, 9.5)
        self.assertAlmostEqual(campaign.delivered_ratio, 100.0 * 3 / 6)
        self.assertAlmostEqual(campaign.failed_ratio, 100.0 * 2 / 9)
        self.assertAlmostEqual(campaign.clicked_ratio, 100.0 * 3 / 6)
        self.assertAlmostEqual(campaign.optout_ratio, 100.0 * 1 / 6)
        self.assertEqual(self.other_campaign.sent_count, 1)
        self.assertAlmostEqual(self.other_campaign.credits_spent, 7.0)

    def test_figures_follow_the_mailings(self):
        self.outside.campaign_id = self.campaign
        self.campaign.invalidate_recordset()
        self.assertEqual(self.campaign.mailing_count, 4)
        self.assertEqual(self.campaign.sent_count, 7)
        self.env["sms.marketing.trace"].browse(self.second_traces[1].id).write(
            {"state": "delivered", "sent_at": "2030-03-12 10:00:00", "cost": 1.0}
        )
        self.campaign.invalidate_recordset()
        self.assertEqual((self.campaign.sent_count, self.campaign.delivered_count), (8, 5))
        self.assertFalse(self.env["sms.marketing.campaign"].create({"name": "Empty"}).sent_count)

    def test_figures_of_many_campaigns_in_one_query(self):
        campaigns = self.campaign | self.other_campaign
        for _index in range(5):
            extra = self.env["sms.marketing.campaign"].create({"name": "Extra"})
            self._traces(
                self.env["sms.marketing.mailing"].create({"subject": "Extra", "body": "x", "campaign_id": extra.id}),
                [("delivered", True, 1.0, False)],
            )
            campaigns |= extra
        campaigns.mapped("sent_count")  # once to write what is pending and warm the rule caches
        campaigns.invalidate_recordset()
        with self.assertQueryCount(1):
            campaigns.mapped("sent_count")
        self.assertEqual(campaigns.mapped("sent_count"), [6, 1, 1, 1, 1, 1, 1])

    def test_campaign_analysis_groups_by_campaign(self):
        """The Reporting pivot's rows: one per mailing, summed by campaign as the campaign shows them."""
        Report = self.env["sms.marketing.campaign.report"].with_user(self.user_marketing)
        groups = Report.read_group(
            [("campaign_id", "in", (self.campaign | self.other_campaign).ids)],
            [*FIGURES, "credits_spent"],
            ["campaign_id"],
        )
        by_campaign = {group["campaign_id"][0]: group for group in groups}
        for campaign in self.campaign | self.other_campaign:
            for fname in (*FIGURES, "credits_spent"):
                with self.subTest(campaign=campaign.name, figure=fname):
                    self.assertAlmostEqual(by_campaign[campaign.id][fname], campaign[fname])
        row = Report.search([("mailing_id", "=", self.first.id)])
        self.assertEqual((row.campaign_id, row.sent_count, row.clicked_count), (self.campaign, 4, 2))

    def test_dates(self):
        with self.assertRaises(ValidationError):
            self.campaign.write({"date_end": "2030-02-28"})
        self.campaign.write({"date_end": "2030-03-01"})  # a one-day campaign
        with self.assertRaises(ValidationError):
            self.env["sms.marketing.campaign"].create(
                {"name": "Backwards", "date_start": "2030-01-02", "date_end": "2030-01-01"}
            )

    def test_mailing_search_and_group_by_campaign(self):
        Mailing = self.env["sms.marketing.mailing"].with_user(self.user_marketing)
        self.assertEqual(
            Mailing.search([("campaign_id", "=", self.campaign.id)]), self.first | self.second | self.draft
        )
        self.assertEqual(Mailing.search([("campaign_id.name", "ilike", "autumn")]), self.outside)
        counts = dict(Mailing._read_group([("campaign_id", "!=", False)], ["campaign_id"], ["__count"]))
        self.assertEqual(counts[self.campaign], 3)
        action = self.campaign.action_view_mailings()
        self.assertEqual(Mailing.search(action["domain"]), self.campaign.mailing_ids)

    def test_each_figure_opens_the_recipients_it_counts(self):
        # "Clicked (3)" opened the campaign analysis's pivot, not who clicked; an archived mailing still counts
        self.second.active = False
        self.campaign.invalidate_recordset()
        Trace = self.env["sms.marketing.trace"].with_user(self.user_marketing)
        buttons = {
            "action_view_traces_sent": "sent_count",
            "action_view_traces_delivered": "delivered_count",
            "action_view_clicks": "clicked_count",
            "action_view_optouts": "optout_count",
        }
        for method, figure in buttons.items():
            with self.subTest(button=method):
                action = getattr(self.campaign.with_user(self.user_marketing), method)()
                self.assertEqual(action["res_model"], "sms.marketing.trace")
                listed = Trace.search(action["domain"])
                self.assertEqual(len(listed), self.campaign[figure])
                self.assertFalse(listed.mailing_id - (self.first | self.second), "the campaign's mailings only")
        clicked = Trace.search(self.campaign.action_view_clicks()["domain"])
        self.assertEqual(clicked, self.first_traces[:2] | self.second_traces[0])
        self.assertIn(self.second, Trace.search(self.campaign.action_view_traces_sent()["domain"]).mailing_id)
        # and the Mailings button lists what it counts, the archived mailing included
        action = self.campaign.with_user(self.user_marketing).action_view_mailings()
        Mailing = self.env["sms.marketing.mailing"].with_user(self.user_marketing).with_context(**action["context"])
        listed = Mailing.search(action["domain"])
        self.assertEqual(len(listed), self.campaign.mailing_count)
        self.assertIn(self.second, listed)

    def test_rights(self):
        Campaign = self.env["sms.marketing.campaign"]
        mine = Campaign.with_user(self.user_marketing).create({"name": "Marketer's"})
        mine.write({"name": "Renamed"})
        mine.unlink()
        for user in (self.user_employee, self.user_portal):
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
                    Campaign.with_user(user).create({"name": "No"})
                with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
                    self.campaign.with_user(user).read(["sent_count"])
        with self.assertRaises(AccessError), mute_logger("odoo.models", "odoo.addons.base"):
            self.env["sms.marketing.campaign.report"].with_user(self.user_marketing).search(
                [("mailing_id", "=", self.first.id)]
            ).write({"sent_count": 100})

    def test_companies(self):
        campaign_b = self.env["sms.marketing.campaign"].create({"name": "B", "company_id": self.company_b.id})
        mailing_b = self.env["sms.marketing.mailing"].create(
            {"subject": "B", "body": "B", "company_id": self.company_b.id, "campaign_id": campaign_b.id}
        )
        self._traces(mailing_b, [("delivered", True, 1.0, False)])
        Campaign = self.env["sms.marketing.campaign"].with_user(self.user_marketing)
        self.assertFalse(Campaign.search([("id", "=", campaign_b.id)]))
        self.assertEqual(
            self.env["sms.marketing.campaign.report"]
            .with_user(self.user_marketing)
            .search([("mailing_id", "=", mailing_b.id)]),
            self.env["sms.marketing.campaign.report"],
        )
        self.assertEqual(campaign_b.with_user(self.marketer_b).sent_count, 1)
        # a mailing of company A cannot join a campaign of company B, nor its campaign move to B
        with self.assertRaises(ValidationError):
            self.first.campaign_id = campaign_b
        with self.assertRaises(ValidationError):
            self.campaign.company_id = self.company_b
        self.other_campaign.company_id = False  # a campaign of every company
