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
    const content = renderer.parentElement;
    const journeyCards = document.querySelectorAll(".o_sms_journeys_strip .o_sms_journey_card").length;
    if (open < 6) {
        console.error(`expected six open columns: ${widths}`);
    } else if (renderer.scrollWidth > renderer.clientWidth) {
        console.error(`the dashboard scrolls sideways: ${widths}`);
    } else if (content.scrollWidth > content.clientWidth) {
        console.error(`the dashboard's page scrolls sideways: ${content.scrollWidth} > ${content.clientWidth} px`);
    } else if (journeyCards !== EXPECTED_JOURNEYS) {
        console.error(`expected EXPECTED_JOURNEYS running journeys on the dashboard, found ${journeyCards}`);
    } else {
        console.log("test successful");
    }
})();
"""


@tagged("post_install", "-at_install")
class TestDashboardLayout(HttpCase):
    browser_size = "1440x900"

    def _make_mailings(self):
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
        return mailing_list

    def test_six_open_columns_fit_a_laptop_screen(self):
        self._make_mailings()
        shown = len(self.env["sms.marketing.journey"].get_dashboard_data()["journeys"])
        measure = MEASURE.replace("EXPECTED_JOURNEYS", str(shown))
        self.browser_js("/web", measure, "odoo.isReady === true", login="admin", timeout=120)

    def test_running_journeys_on_the_dashboard(self):
        """The running journeys are above the columns (a few, the others behind "more"), with their
        participants, sent and clicked; the dashboard still fits the screen."""
        mailing_list = self._make_mailings()
        journeys = self.env["sms.marketing.journey"].create(
            [
                {"name": f"Layout journey {i}", "list_ids": [(6, 0, mailing_list.ids)], "trigger": "manual"}
                for i in range(12)
            ]
        )
        journeys.sudo().write({"state": "running"})
        running = self.env["sms.marketing.journey"].search_count([("state", "=", "running")])
        data = self.env["sms.marketing.journey"].get_dashboard_data()
        shown = len(data["journeys"])
        self.assertTrue(0 < shown < running, "a few journeys, not all of them")
        self.assertEqual(data["more"], running - shown)
        self.assertEqual(set(data["journeys"][0]), {"id", "name", "participant_count", "sent_count", "clicked_count"})
        measure = MEASURE.replace("EXPECTED_JOURNEYS", str(shown))
        self.browser_js("/web", measure, "odoo.isReady === true", login="admin", timeout=120)
