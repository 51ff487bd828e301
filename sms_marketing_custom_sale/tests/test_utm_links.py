import re
from urllib.parse import parse_qs, urlsplit

from werkzeug.http import parse_cookie

from odoo.addons.sms_marketing_custom.tests.common import SmsMarketingCase, SmsMarketingLinksCommon
from odoo.addons.sms_marketing_custom.tools import links
from odoo.tests import HttpCase, tagged

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


@tagged("post_install", "-at_install")
class TestUtmDefaults(SmsMarketingCase):
    def test_mailing_and_campaign_defaults(self):
        Mailing = self.env["sms.marketing.mailing"].with_user(self.user_marketing)
        campaign = self.env["sms.marketing.campaign"].with_user(self.user_marketing).create({"name": "Black Friday"})
        self.assertEqual(campaign.utm_campaign_id.title, "Black Friday")
        sms = Mailing._get_sms_utm_medium()
        self.assertEqual((campaign.utm_medium_id, sms.name), (sms, "SMS"))
        first, second = Mailing.create(
            [
                {"subject": "Doors open at 8", "body": "Hi", "campaign_id": campaign.id},
                {"subject": "Doors open at 8", "body": "Hi"},
            ]
        )
        # like Odoo's mailings: a source of its own, named after the subject, the SMS medium
        self.assertTrue(first.utm_source_id.name.startswith("Doors open at 8 ("))
        self.assertNotEqual(first.utm_source_id, second.utm_source_id)
        self.assertEqual((first.utm_medium_id, second.utm_medium_id), (sms, sms))
        self.assertEqual(first.utm_campaign_id, campaign.utm_campaign_id)
        self.assertFalse(second.utm_campaign_id)
        self.assertTrue(first.utm_link_tracking)
        copy = first.copy()
        self.assertTrue(copy.utm_source_id)
        self.assertNotEqual(copy.utm_source_id, first.utm_source_id)
        # moving a mailing to a campaign gives it the campaign's UTM campaign
        second.campaign_id = campaign
        self.assertEqual(second.utm_campaign_id, campaign.utm_campaign_id)


@tagged("post_install", "-at_install")
class TestUtmUrl(SmsMarketingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.campaign = cls.env["sms.marketing.campaign"].create({"name": "Spring 2026"})
        cls.mailing = cls.env["sms.marketing.mailing"].create(
            {"subject": "Spring", "body": "Hi", "campaign_id": cls.campaign.id}
        )
        cls.utm = {
            "utm_campaign": [cls.campaign.utm_campaign_id.name],
            "utm_source": [cls.mailing.utm_source_id.name],
            "utm_medium": ["SMS"],
        }

    def test_parameters_added(self):
        url = self.mailing._get_utm_url("https://shop.example.com/sale?promo=A%20B#top")
        parts = urlsplit(url)
        self.assertEqual((parts.netloc, parts.path, parts.fragment), ("shop.example.com", "/sale", "top"))
        self.assertTrue(parts.query.startswith("promo=A%20B&"), "the URL's own query is kept as written")
        self.assertEqual(parse_qs(parts.query), {"promo": ["A B"], **self.utm})

    def test_url_parameters_win(self):
        url = self.mailing._get_utm_url("https://shop.example.com/?utm_source=newsletter&utm_medium=")
        query = parse_qs(urlsplit(url).query, keep_blank_values=True)
        self.assertEqual(query["utm_source"], ["newsletter"])
        self.assertEqual(query["utm_medium"], [""])
        self.assertEqual(query["utm_campaign"], self.utm["utm_campaign"])

    def test_off_per_mailing_and_external_tracking(self):
        target = "https://shop.example.com/sale"
        self.mailing.utm_link_tracking = False
        self.assertEqual(self.mailing._get_utm_url(target), target)
        self.mailing.utm_link_tracking = True
        self.env["ir.config_parameter"].sudo().set_param("link_tracker.no_external_tracking", "1")
        self.assertEqual(self.mailing._get_utm_url(target), target)
        own = self.mailing.get_base_url() + "/shop"
        self.assertIn("utm_source=", self.mailing._get_utm_url(own))
        # a link made by hand, without a mailing, is left as it is
        self.assertEqual(self.env["sms.marketing.mailing"]._get_utm_url(target), target)


@tagged("post_install", "-at_install")
class TestUtmRedirect(HttpCase, SmsMarketingLinksCommon):
    """The tracked link's redirect carries the UTM values, and the page it opens on this Odoo sets
    Odoo's UTM cookies (utm's ir.http), which the order placed in that visit takes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_links_fixtures()
        cls.campaign = cls.env["sms.marketing.campaign"].create({"name": "Summer"})
        base = cls.env["ir.config_parameter"].sudo().get_param("web.base.url")
        cls.mailing.write({"campaign_id": cls.campaign.id, "body": f"Sale at {base}/web/login?x=1 now"})
        cls.mailing._prepare_tracking()
        body = cls.mailing._apply_tracking(cls.traces[:1], {cls.traces[0].id: cls.mailing.body})
        cls.short_path = re.sub(r"^https?://[^/]+", "", re.search(r"https?://\S+", body[cls.traces[0].id]).group())

    def test_redirect_and_cookies(self):
        self.assertTrue(self.short_path.startswith(links.CLICK_PATH))
        response = self.url_open(self.short_path, headers={"User-Agent": BROWSER}, allow_redirects=False)
        self.assertEqual(response.status_code, 302)
        target = urlsplit(response.headers["Location"])
        query = parse_qs(target.query)
        self.assertEqual(query["x"], ["1"])
        self.assertEqual(query["utm_source"], [self.mailing.utm_source_id.name])
        self.assertEqual(query["utm_campaign"], [self.campaign.utm_campaign_id.name])
        self.assertEqual(query["utm_medium"], ["SMS"])
        self.env.invalidate_all()
        self.assertEqual(self.mailing.link_ids.click_ids.trace_id, self.traces[0], "the click is still counted")
        # the landing page on this Odoo keeps them for the visit (cookies read by utm.mixin.default_get)
        landing = self.url_open(f"{target.path}?{target.query}", allow_redirects=False)
        cookies = parse_cookie("; ".join(f"{cookie.name}={cookie.value}" for cookie in landing.cookies))
        self.assertEqual(cookies.get("odoo_utm_source"), self.mailing.utm_source_id.name)
        self.assertEqual(cookies.get("odoo_utm_campaign"), self.campaign.utm_campaign_id.name)
        self.assertEqual(cookies.get("odoo_utm_medium"), "SMS")
