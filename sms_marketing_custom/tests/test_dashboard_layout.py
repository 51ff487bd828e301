"""The dashboard (SMS Mailings kanban, grouped by state) fits a 1440 px laptop screen without scrolling
sideways, even when every state a marketer meets at once has cards."""

from odoo.tests import HttpCase, tagged

# Runs in the page once the web client is ready: opens the dashboard, waits for its columns, compares
# the renderer's scroll width with its visible width.
MEASURE = """
(async () => {
    const env = odoo.__WOWL_DEBUG__.root.env;
    await env.services.action.doAction("sms_marketing_custom.sms_marketing_mailing_action");
    const column = ".o_sms_marketing_mailing_kanban .o_kanban_group";
    for (let wait = 0; wait < 100 && !document.querySelector(column); wait++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const renderer = document.querySelector(".o_sms_marketing_mailing_kanban .o_kanban_renderer");
    const open = renderer.querySelectorAll(".o_kanban_group:not(.o_column_folded)").length;
    const widths = `scroll ${renderer.scrollWidth} px, visible ${renderer.clientWidth} px, ${open} open columns`;
    if (open < 6) {
        console.error(`expected six open columns: ${widths}`);
    } else if (renderer.scrollWidth > renderer.clientWidth) {
        console.error(`the dashboard scrolls sideways: ${widths}`);
    } else {
        console.log("test successful");
    }
})();
"""


@tagged("post_install", "-at_install")
class TestDashboardLayout(HttpCase):
    browser_size = "1440x900"

    def test_six_open_columns_fit_a_laptop_screen(self):
        # the states are set directly: only the layout of their cards is under test
        states = ("draft", "scheduled", "sending", "paused", "testing", "done")
        mailing_list = self.env["sms.marketing.list"].create({"name": "Layout"})
        mailings = self.env["sms.marketing.mailing"].create(
            [
                {"subject": f"Layout {state}", "body": "Hello", "list_ids": [(6, 0, mailing_list.ids)]}
                for state in states
            ]
        )
        for mailing, state in zip(mailings, states, strict=True):
            mailing.sudo().write({"state": state})
        self.browser_js("/web", MEASURE, "odoo.isReady === true", login="admin", timeout=120)
