/** @odoo-module */
// The SMS Mailings dashboard (kanban grouped by state) with the running journeys above its columns, as
// Odoo's own dashboards put their figures above a kanban (purchase's RFQs): one row that wraps, so the
// dashboard keeps to the screen's width; each card opens its journey.
import { Component, onWillStart } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { kanbanView } from "@web/views/kanban/kanban_view";
import { KanbanRenderer } from "@web/views/kanban/kanban_renderer";

export class SmsJourneysStrip extends Component {
    static template = "sms_marketing_custom.JourneysStrip";
    static props = {};

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        onWillStart(async () => {
            this.data = await this.orm.call("sms.marketing.journey", "get_dashboard_data", []);
        });
    }

    openJourney(journeyId) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "sms.marketing.journey",
            res_id: journeyId,
            views: [[false, "form"]],
        });
    }

    openJourneys() {
        this.action.doAction("sms_marketing_custom.sms_marketing_journey_action");
    }
}

export class SmsMailingDashboardRenderer extends KanbanRenderer {
    static template = "sms_marketing_custom.MailingDashboardRenderer";
    static components = { ...KanbanRenderer.components, SmsJourneysStrip };
}

registry.category("views").add("sms_mailing_dashboard_kanban", {
    ...kanbanView,
    Renderer: SmsMailingDashboardRenderer,
});
