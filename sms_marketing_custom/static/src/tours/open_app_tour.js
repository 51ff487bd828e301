/** @odoo-module **/
import { registry } from "@web/core/registry";
import { nothingLeftToLoad } from "./tour_idle";

// Opens the app from the home menu and lands on the mailings dashboard.
registry.category("web_tour.tours").add("sms_marketing_custom_open_app", {
    test: true,
    url: "/web",
    steps: () => [
        {
            content: "Open the apps menu",
            trigger: ".o_navbar_apps_menu button",
        },
        {
            content: "Open the SMS Campaigns app",
            trigger: '.o_app[data-menu-xmlid="sms_marketing_custom.sms_marketing_menu_root"]',
        },
        {
            content: "The mailings view is shown",
            trigger: '.o_breadcrumb:contains("SMS Mailings")',
            isCheck: true,
        },
        ...nothingLeftToLoad(),
    ],
});
