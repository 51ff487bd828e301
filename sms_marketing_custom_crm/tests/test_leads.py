from datetime import datetime, timedelta

from odoo.addons.sms_marketing_custom.tests.common import SmsMarketingCase
from odoo.addons.sms_marketing_custom_sale.models.sms_marketing_campaign_report import ATTRIBUTION_DAYS_PARAM
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

SENT = datetime(2026, 3, 2, 9, 0, 0)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


@tagged("post_install", "-at_install")
class TestLeadAttribution(SmsMarketingCase):
    """Leads are a mailing's by the sales bridge's rule: its UTM source, a campaign that does not
    contradict, its company and the window [schedule date, + N days) (models/sms_marketing_campaign_report.py)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.campaign, cls.other_campaign = cls.env["sms.marketing.campaign"].create(
            [{"name": "Rainy days"}, {"name": "Sunny days"}]
        )
        cls.mailing, cls.mailing_2, cls.mailing_other = cls.env["sms.marketing.mailing"].create(
            [
                {"subject": "Rain today", "body": "Hi", "campaign_id": cls.campaign.id, "schedule_date": SENT},
                {"subject": "Rain again", "body": "Hi", "campaign_id": cls.campaign.id, "schedule_date": SENT},
                {"subject": "Sun", "body": "Hi", "campaign_id": cls.other_campaign.id, "schedule_date": SENT},
            ]
        )
        sms_user = "sms_marketing_custom.group_sms_marketing_user"
        # CRM's two kinds of salespeople: all leads, or their own and the unassigned ones
        cls.salesman_all = new_test_user(
            cls.env, login="sms_crm_all", groups=f"sales_team.group_sale_salesman_all_leads,{sms_user}"
        )
        cls.salesman_own = new_test_user(
            cls.env, login="sms_crm_own", groups=f"sales_team.group_sale_salesman,{sms_user}"
        )
        cls.salesman_other = new_test_user(cls.env, login="sms_crm_other", groups="sales_team.group_sale_salesman")

    def _lead(self, mailing, created, revenue=100.0, campaign=None, source=None, user=None, company=None):
        lead = self.env["crm.lead"].create(
            {
                "name": f"Lead {revenue}",
                "type": "opportunity",
                "expected_revenue": revenue,
                "user_id": (user or self.salesman_all).id,
                "source_id": (source if source is not None else mailing.utm_source_id).id,
                "campaign_id": (campaign if campaign is not None else mailing.utm_campaign_id).id,
            }
        )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE crm_lead SET create_date = %s, company_id = %s WHERE id = %s",
            [created, (company or self.company_a).id, lead.id],
        )
        self.env.invalidate_all()
        return lead

    def _figures(self, record):
        record.invalidate_recordset()
        return record.lead_count, record.lead_expected_revenue

    def _action_lead_ids(self, record, user=None):
        action = record.with_user(user or self.salesman_all).action_view_leads()
        return (
            self.env["crm.lead"]
            .with_user(user or self.salesman_all)
            .with_context(**action["context"])
            .search(action["domain"])
        )

    def test_window_edges(self):
        self._lead(self.mailing, SENT, revenue=1.0)  # at the start: counts
        self._lead(self.mailing, SENT - SECOND, revenue=2.0)  # before the SMS: no
        self._lead(self.mailing, SENT + 30 * DAY - SECOND, revenue=4.0)  # N days - 1 s: counts
        self._lead(self.mailing, SENT + 30 * DAY, revenue=8.0)  # N days: no (half-open)
        self.assertEqual(self._figures(self.mailing), (2, 5.0))
        # the sales bridge's N, one window for orders and leads
        self.env["ir.config_parameter"].sudo().set_param(ATTRIBUTION_DAYS_PARAM, "31")
        self.assertEqual(self._figures(self.mailing), (3, 13.0))

    def test_utm_rules(self):
        self._lead(self.mailing, SENT + DAY, revenue=1.0)
        # no UTM source: typed in by a salesperson or from another channel, no mailing's
        self._lead(self.mailing, SENT + DAY, revenue=2.0, source=self.env["utm.source"])
        # another campaign's UTM campaign on the lead: that campaign brought it
        self._lead(self.mailing, SENT + DAY, revenue=4.0, campaign=self.other_campaign.utm_campaign_id)
        # no UTM campaign (a salesperson set the source only): the source decides
        self._lead(self.mailing, SENT + DAY, revenue=8.0, campaign=self.env["utm.campaign"])
        # the same campaign, another mailing's source: the other mailing's
        self._lead(self.mailing_2, SENT + DAY, revenue=16.0)
        self.assertEqual(self._figures(self.mailing), (2, 9.0))
        self.assertEqual(self._figures(self.mailing_2), (1, 16.0))
        self.assertEqual(self._figures(self.mailing_other), (0, 0.0))

    def test_lost_leads_and_campaign_sum(self):
        self._lead(self.mailing, SENT + DAY, revenue=10.0)
        self._lead(self.mailing, SENT + DAY, revenue=20.0).action_set_lost()  # brought, expects nothing
        self._lead(self.mailing, SENT + DAY, revenue=40.0).action_set_won()
        self._lead(self.mailing_2, SENT + DAY, revenue=100.0)
        self.assertEqual(self._figures(self.mailing), (3, 50.0))
        # the campaign is its mailings summed, in the form and in the analysis (beside the sales)
        self.assertEqual(self._figures(self.campaign), (4, 150.0))
        self.assertEqual(self._figures(self.other_campaign), (0, 0.0))
        Report = self.env["sms.marketing.campaign.report"].with_user(self.salesman_own)
        [(campaign, leads, expected, orders)] = Report._read_group(
            [("campaign_id", "=", self.campaign.id)],
            ["campaign_id"],
            ["lead_count:sum", "lead_expected_revenue:sum", "sale_order_count:sum"],
        )
        self.assertEqual((campaign, leads, expected, orders), (self.campaign, 4, 150.0, 0))

    def test_stat_button_domain(self):
        """The stat button lists exactly the leads counted: lost ones too, not those outside the rule."""
        counted = self._lead(self.mailing, SENT + DAY) | self._lead(self.mailing, SENT + 2 * DAY)
        lost = self._lead(self.mailing, SENT + DAY)
        lost.action_set_lost()
        counted |= lost
        self._lead(self.mailing, SENT - SECOND)  # before the SMS
        self._lead(self.mailing, SENT + DAY, source=self.env["utm.source"])  # no source
        self._lead(self.mailing, SENT + DAY, company=self.company_b)  # another company
        other = self._lead(self.mailing_2, SENT + DAY)
        action = self.mailing.with_user(self.salesman_all).action_view_leads()
        self.assertEqual((action["res_model"], action["context"]["active_test"]), ("crm.lead", False))
        self.assertEqual(action["domain"], [("id", "in", action["domain"][0][2])])
        self.assertEqual(sorted(action["domain"][0][2]), sorted(counted.ids))
        self.assertEqual(self._action_lead_ids(self.mailing), counted)
        self.assertEqual(self.mailing.with_user(self.salesman_all).lead_count, len(counted))
        self.assertEqual(self._action_lead_ids(self.campaign), counted | other)

    def test_set_wise(self):
        for mailing in (self.mailing, self.mailing_2, self.mailing_other):
            self._lead(mailing, SENT + DAY)
        mailings = (self.mailing | self.mailing_2 | self.mailing_other).with_user(self.salesman_all)

        def queries(records):
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            records.mapped("lead_expected_revenue")
            return self.env.cr.sql_log_count - before

        queries(mailings)  # warm the caches of the registry (currencies, companies)
        self.assertEqual(queries(mailings), queries(mailings[:1]), "one query for the batch, not one per mailing")
        self.assertEqual(mailings.mapped("lead_count"), [1, 1, 1])

    # ------------------------------------------------------------------ attacks
    def test_attack_marketer_without_crm_rights(self):
        """Leads figures and lists are for those who may see leads: a marketer without CRM rights reads
        neither the figures nor which leads a mailing brought."""
        self._lead(self.mailing, SENT + DAY)
        for record in (self.mailing, self.campaign):
            with self.assertRaises(AccessError):
                record.with_user(self.user_marketing).read(["lead_count"])
            with self.assertRaises(AccessError):
                record.with_user(self.user_marketing).read(["lead_expected_revenue"])
            with self.assertRaises(AccessError):
                record.with_user(self.user_marketing).action_view_leads()
        Report = self.env["sms.marketing.campaign.report"].with_user(self.user_marketing)
        with self.assertRaises(AccessError):
            Report.read_group([("mailing_id", "=", self.mailing.id)], ["lead_count:sum"], ["mailing_id"])
        arch = self.env["sms.marketing.mailing"].with_user(self.user_marketing).get_views([(False, "form")])
        self.assertNotIn("action_view_leads", arch["views"]["form"]["arch"])

    def test_attack_salesman_sees_what_crm_allows(self):
        """The list the button opens goes through CRM's record rules: a salesman with "own documents
        only" sees their leads and the unassigned ones, not a colleague's."""
        mine = self._lead(self.mailing, SENT + DAY, user=self.salesman_own)
        colleague = self._lead(self.mailing, SENT + DAY, user=self.salesman_other)
        self.assertEqual(self._action_lead_ids(self.mailing, self.salesman_own), mine)
        with self.assertRaises(AccessError):
            colleague.with_user(self.salesman_own).read(["expected_revenue"])
        self.assertEqual(self._action_lead_ids(self.mailing, self.salesman_all), mine | colleague)

    def test_attack_leads_of_another_companys_mailing(self):
        """The list of leads opens only for mailings and campaigns the user may read: called over RPC with
        the id of another company's mailing, it does not tell which of that company's leads it brought."""
        campaign_b = self.env["sms.marketing.campaign"].create({"name": "B's days", "company_id": self.company_b.id})
        mailing_b = self.env["sms.marketing.mailing"].create(
            {
                "subject": "B's rain",
                "body": "Hi",
                "campaign_id": campaign_b.id,
                "company_id": self.company_b.id,
                "schedule_date": SENT,
            }
        )
        lead = self._lead(mailing_b, SENT + DAY, company=self.company_b)
        self.assertIn(lead.id, mailing_b.action_view_leads()["domain"][0][2], "the mailing has a lead")
        for record in (mailing_b, campaign_b, self.mailing | mailing_b):
            with self.subTest(record=record), self.assertRaises(AccessError):
                record.with_user(self.salesman_all).action_view_leads()

    def test_attack_leads_of_another_company(self):
        """A lead of another company (or of none) with the mailing's source is not the mailing's."""
        self._lead(self.mailing, SENT + DAY, revenue=1.0)
        foreign = self._lead(self.mailing, SENT + DAY, revenue=1000.0, company=self.company_b)
        self.assertEqual(self._figures(self.mailing), (1, 1.0))
        self.assertEqual(self._figures(self.campaign), (1, 1.0))
        self.assertNotIn(foreign, self._action_lead_ids(self.mailing))
        self.env.cr.execute("UPDATE crm_lead SET company_id = NULL WHERE id = %s", [foreign.id])
        self.assertEqual(self._figures(self.mailing), (1, 1.0))
