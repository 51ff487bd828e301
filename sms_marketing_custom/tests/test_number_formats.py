"""Credits read as the user's language writes numbers, with the decimals that mean something."""

import json

from odoo.tests import HttpCase, tagged

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
