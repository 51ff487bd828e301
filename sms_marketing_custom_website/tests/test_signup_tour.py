from odoo.tests import HttpCase, tagged

from .common import WebsiteSignupCase


class SignupTourMixin:
    def test_signup_tour(self):
        self.start_tour("/sms-offers", "sms_marketing_website_signup")
        signup = self.env["website.sms.signup"].search([("list_id", "=", self.sms_list.id)])
        self.assertEqual((signup.number, signup.state), ("+32471554433", "queued"))
        self.assertTrue(signup.page_url.endswith("/sms-offers"))


@tagged("post_install", "-at_install")
class TestSignupTourDesktop(SignupTourMixin, HttpCase, WebsiteSignupCase):
    pass


@tagged("post_install", "-at_install")
class TestSignupTourPhone(SignupTourMixin, HttpCase, WebsiteSignupCase):
    browser_size = "390x844"
    touch_enabled = True
