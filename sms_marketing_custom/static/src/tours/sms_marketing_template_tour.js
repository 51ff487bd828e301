/** @odoo-module **/
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";
import { nothingLeftToLoad } from "./tour_idle";

/**
 * Start a mailing from a template (tests/test_templates_tour.py sets up the
 * template and the list, and checks the saved mailing): open the SMS app,
 * create a mailing, pick the template in "Start from template"; the text
 * area, the counter and the preview show the template's text, rendered for
 * the first recipient; save.
 */
registry.category("web_tour.tours").add("sms_marketing_custom_template", {
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
            content: "Create a mailing",
            trigger: ".o_control_panel .o-kanban-button-new",
            extra_trigger: '.o_breadcrumb:contains("SMS Mailings")',
        },
        {
            content: "Subject",
            trigger: '.o_field_widget[name="subject"] input',
            run: "text Tour from template",
        },
        {
            content: "Start from template",
            trigger: '.o_field_widget[name="template_id"] input',
            run: "text Tour flash",
        },
        {
            content: "Pick the template",
            trigger: '.o-autocomplete--dropdown-item a:contains("Tour flash sale")',
        },
        {
            content: "Without a recipient yet, the preview shows the template's text as written",
            trigger: '.o_sms_preview_body:contains("Hello {{ object.name }}, flash sale")',
            isCheck: true,
        },
        {
            content: "The text area holds the template's text",
            trigger: '.o_field_widget[name="body"] textarea',
            run() {
                const value = this.$anchor[0].value;
                if (!value.startsWith("Hello {{ object.name }}, flash sale")) {
                    throw new Error(`body is "${value}"`);
                }
            },
        },
        {
            content: "Select the list",
            trigger: '.o_field_widget[name="list_ids"] input',
            run: "text Tour template list",
        },
        {
            content: "Pick it",
            trigger: '.o-autocomplete--dropdown-item a:contains("Tour template list")',
        },
        {
            content: "The preview shows the template's text for the first recipient",
            trigger: '.o_sms_preview_body:contains("Hello Tess, flash sale")',
            extra_trigger: '.o_sms_marketing_audience_to_send:contains("1")',
            isCheck: true,
        },
        {
            content: "The counter counts it",
            trigger: ".o_sms_counter_chars",
            run() {
                const body = document.querySelector(".o_sms_preview_body").textContent;
                const optout = document.querySelector(".o_sms_preview_optout");
                const expected = Array.from(body + (optout ? "\n" + optout.textContent : "")).length;
                const shown = parseInt(this.$anchor[0].textContent.trim(), 10);
                if (shown !== expected) {
                    throw new Error(`counter ${shown}, preview ${expected}`);
                }
            },
        },
        ...stepUtils.saveForm(),
        {
            content: "Saved",
            trigger: ".o_form_saved",
            isCheck: true,
        },
        ...nothingLeftToLoad(),
    ],
});

/**
 * A marketer writes a template (the counter, preview and price of the mailing
 * form) and reads the campaigns in Reporting (tests/test_templates_tour.py).
 */
registry.category("web_tour.tours").add("sms_marketing_custom_template_form", {
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
            content: "Configuration",
            trigger: '.o_menu_sections button:contains("Configuration")',
        },
        {
            content: "SMS Templates",
            trigger: '.dropdown-item[data-menu-xmlid="sms_marketing_custom.sms_marketing_template_menu"]',
        },
        {
            content: "New template",
            trigger: ".o_list_button_add",
        },
        {
            content: "Name",
            trigger: '.o_field_widget[name="name"] input',
            run: "text Tour welcome",
        },
        {
            content: "Write the text",
            trigger: '.o_field_widget[name="body"] textarea',
            run: "text Hi {{ object.name }}, welcome! https://flash.example.org/welcome",
        },
        {
            content: "The preview renders the sample recipient, the tracked link and the opt-out line",
            trigger: '.o_sms_preview_body:contains("welcome!"):contains("/l/"):not(:contains("{{"))',
            extra_trigger: '.o_sms_preview_optout:contains("/o/")',
            isCheck: true,
        },
        {
            content: "The counter counts the preview",
            trigger: ".o_sms_counter_chars",
            run() {
                const body = document.querySelector(".o_sms_preview_body").textContent;
                const optout = document.querySelector(".o_sms_preview_optout");
                const expected = Array.from(body + (optout ? "\n" + optout.textContent : "")).length;
                const shown = parseInt(this.$anchor[0].textContent.trim(), 10);
                if (shown !== expected) {
                    throw new Error(`counter ${shown}, preview ${expected}`);
                }
            },
        },
        {
            content: "The price of one message to the sample",
            trigger: '.o_sms_marketing_template_price:contains("credits per message to")',
            isCheck: true,
        },
        ...stepUtils.saveForm(),
        {
            content: "Campaigns",
            trigger: '.o_menu_sections a[data-menu-xmlid="sms_marketing_custom.sms_marketing_campaign_menu"]',
            extra_trigger: ".o_form_saved",
        },
        {
            content: "The campaign and its figures",
            trigger: '.o_data_row:contains("Tour campaign") td[name="sent_count"]:contains("2")',
            isCheck: true,
        },
        {
            content: "Reporting",
            trigger: '.o_menu_sections button:contains("Reporting")',
        },
        {
            content: "Campaign Analysis",
            trigger: '.dropdown-item[data-menu-xmlid="sms_marketing_custom.sms_marketing_campaign_report_menu"]',
        },
        {
            content: "The pivot groups the mailings by campaign",
            trigger: '.o_pivot .o_pivot_header_cell_closed:contains("Tour campaign")',
            isCheck: true,
        },
        ...nothingLeftToLoad(),
    ],
});
