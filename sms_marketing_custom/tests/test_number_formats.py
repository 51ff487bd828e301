"""Credits read as the user's language writes numbers, with the decimals that mean something."""

import json

from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged

from ..tools import pricing
from .common import SmsEngineCase

# Opens the credit ledger of one gateway and reports the amounts as the list shows them.
READ_LEDGER = """
(async () => {
    const env = odoo.__WOWL_DEBUG__.root.env;
    await env.services.action.doAction({
        type: "ir.actions.act_window",
        res_model: "sms.marketing.credit.move",
        views: [[false, "list"]],
        domain: [["gateway_id", "=", %(gateway)s]],
        context: {},
    });
    const cell = ".o_list_table .o_data_row td[name=amount]";
    for (let wait = 0; wait < 100 && document.querySelectorAll(cell).length < 2; wait++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const shown = [...document.querySelectorAll(cell)].map((td) => td.textContent.trim()).sort();
    const expected = %(expected)s;
    if (JSON.stringify(shown) === JSON.stringify(expected)) {
        console.log("test successful");
    } else {
        console.error(`credits shown as ${JSON.stringify(shown)}, expected ${JSON.stringify(expected)}`);
    }
})();
"""


@tagged("post_install", "-at_install")
class TestNumberFormats(HttpCase):
    def test_credits_in_italian(self):
        self.env["res.lang"]._activate_lang("it_IT")
        self.env.ref("base.user_admin").lang = "it_IT"
        gateway = self.env["sms.marketing.gateway"].create({"name": "Formats", "provider": "sandbox"})
        self.env["sms.marketing.credit.move"].sudo().create(
            [
                {"gateway_id": gateway.id, "move_type": "purchase", "amount": 1248.0},
                {"gateway_id": gateway.id, "move_type": "spend", "amount": -0.0075},
            ]
        )
        # Italian groups thousands with "." and writes decimals after ","; two decimals unless a price needs four
        code = READ_LEDGER % {"gateway": gateway.id, "expected": json.dumps(["-0,0075", "1.248,00"])}
        self.browser_js("/web", code, "odoo.isReady === true", login="admin", timeout=120)


@tagged("post_install", "-at_install")
class TestNumberFormatsInPython(SmsEngineCase):
    """The figures the server writes into texts (estimate table, Send's prices, credit errors) are written
    as the user's language writes numbers, with the decimals that mean something."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("it_IT")
        cls.user_marketing.lang = "it_IT"

    def test_format_credits(self):
        env = self.env(context=dict(self.env.context, lang="it_IT"))
        shown = [pricing.format_credits(env, value) for value in (21.0, 1248.0, 0.0075, 0.05, 1234567.5)]
        self.assertEqual(shown, ["21,00", "1.248,00", "0,0075", "0,05", "1.234.567,50"])

    def test_estimate_send_and_refusal_in_italian(self):
        self._make_contacts(1248)
        self.http_gateway.default_price = 1.0
        mailing = self._make_mailing(self.http_gateway, body="Saldi")
        mailing = mailing.with_user(self.user_marketing).with_context(lang="it_IT")  # as the web client asks
        html = str(mailing.estimate_html)
        self.assertIn(">1.248,00<", html)
        self.assertIn(">1.248<", html, "the recipients counted as Italian writes them")
        self.assertNotIn("1,248", html)
        wizard = (
            self.env["sms.marketing.mailing.send"]
            .with_user(self.user_marketing)
            .with_context(lang="it_IT")
            .create({"mailing_id": mailing.id})
        )
        self.assertIn(">1,00<", str(wizard.prices_html))
        self.sim.configure(balance=21.0)
        with self.assertRaisesRegex(UserError, r"1\.248,00 .*21,00"):
            mailing.action_send_now()
