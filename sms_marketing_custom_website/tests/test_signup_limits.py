from odoo.addons.sms_marketing_custom_website.models.website_sms_signup import COMPANY_LIMIT_PARAM, IP_LIMIT_PARAM
from odoo.tests import tagged

from .common import WebsiteSignupCase


@tagged("post_install", "-at_install")
class TestSignupLimits(WebsiteSignupCase):
    """The form as a tool to send paid SMS to many numbers: the limits hold across addresses.

    ``_submit`` is called as the public route calls it (as superuser, with the request's address)."""

    def _submit(self, number, ip):
        return self.Signup._submit(self.sms_list, number, "BE", ip, "http://127.0.0.1/sms-offers", "en_US")

    def test_attack_rotating_addresses_of_one_ipv6_network(self):
        """A subscriber line has a whole /64: each address of it counts as the same visitor."""
        self.env["ir.config_parameter"].sudo().set_param(IP_LIMIT_PARAM, "3")
        outcomes = [self._submit(f"+3247000010{index}", f"2001:db8:1:2::{index + 1:x}") for index in range(5)]
        self.assertEqual(outcomes, ["ok", "ok", "ok", "flood", "flood"])
        # another /64 is another visitor; an IPv4 address written as IPv6 is that IPv4 address
        self.assertEqual(self._submit("+32470000200", "2001:db8:1:3::1"), "ok")
        self.assertEqual(
            [self._submit("+32470000300", ip) for ip in ("192.0.2.7", "192.0.2.7", "192.0.2.7", "::ffff:192.0.2.7")],
            ["ok", "ok", "ok", "flood"],
        )

    def test_attack_many_addresses_many_numbers(self):
        """Past the company's hourly number of JOIN SMS, nobody's sign-up is sent, whatever the address."""
        self.env["ir.config_parameter"].sudo().set_param(COMPANY_LIMIT_PARAM, "3")
        outcomes = [self._submit(f"+3247000040{index}", f"198.51.100.{index + 1}") for index in range(5)]
        self.assertEqual(outcomes, ["ok", "ok", "ok", "flood", "flood"])
        self.Signup._cron_send_confirmations()
        self.assertEqual(len(self.env["sms.marketing.join.request"].search([("number", "like", "+3247000040")])), 3)

    def test_company_limit_default(self):
        self.assertEqual(self.Signup._get_limit(COMPANY_LIMIT_PARAM), 100)
