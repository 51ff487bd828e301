/** @odoo-module **/
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";
import { nothingLeftToLoad } from "./tour_idle";

/**
 * The form tells the truth (tests/test_mailing_tour.py sets up the data and
 * checks the result): on a new, unsaved mailing the preview shows the SMS of
 * the first recipient (placeholder rendered, tracked link, opt-out line) and
 * the counter counts exactly that text; saving changes nothing; the prices
 * button shows "Other countries"; Send's confirmation names recipients,
 * parts, credits and the balance after sending; the sent mailing's
 * statistics and traces; the dashboard card's figures.
 */
const counted = { before: null };

/** The preview as the recipient reads it: body, then the opt-out line on its own line. */
function previewText() {
    const body = document.querySelector(".o_sms_preview_body");
    const optout = document.querySelector(".o_sms_preview_optout");
    return (body ? body.textContent : "") + (optout ? "\n" + optout.textContent : "");
}

function counterCharacters() {
    return parseInt(document.querySelector(".o_sms_counter_chars").textContent.trim(), 10);
}

registry.category("web_tour.tours").add("sms_marketing_custom_truth", {
    test: true,
    url: "/web#action=sms_marketing_custom.sms_marketing_mailing_action",
    steps: () => [
        {
            content: "The dashboard fits: Canceled is folded",
            trigger: ".o_kanban_group.o_column_folded:contains(Canceled)",
            isCheck: true,
        },
        {
            content: "A sent mailing's card shows its figures",
            trigger: '.o_kanban_record:contains("Truth sent") .o_sms_kanban_stat_delivered:contains("2")',
            extra_trigger: '.o_kanban_record:contains("Truth sent") .o_sms_kanban_stat_clicked:contains("1")',
            isCheck: true,
        },
        {
            content: "Create a mailing",
            trigger: ".o_control_panel .o-kanban-button-new",
        },
        {
            content: "Subject",
            trigger: '.o_field_widget[name="subject"] input',
            run: "text Truth flash sale",
        },
        {
            content: "Select the list",
            trigger: '.o_field_widget[name="list_ids"] input',
            run: "text Truth list",
        },
        {
            content: "Pick it",
            trigger: '.o-autocomplete--dropdown-item a:contains("Truth list")',
        },
        {
            content: "Write the SMS with a placeholder and a link",
            trigger: '.o_field_widget[name="body"] textarea',
            extra_trigger: '.o_sms_marketing_audience_to_send:contains("3")',
            run: "text Hi {{ object.name }}, flash sale this weekend: https://shop.example.com/flash?utm_source=sms",
        },
        {
            content: "The preview renders the first recipient's name, the tracked link and the opt-out line",
            trigger: '.o_sms_preview_body:contains("Hi Ann, flash sale"):contains("/l/")',
            extra_trigger: '.o_sms_preview_optout:contains("/o/")',
            isCheck: true,
        },
        {
            content: "The counter counts exactly the preview, before the first save",
            trigger: ".o_sms_counter_chars",
            run() {
                const expected = Array.from(previewText()).length;
                const shown = counterCharacters();
                if (shown !== expected || previewText().includes("shop.example.com")) {
                    throw new Error(`counter ${shown}, preview ${expected}: ${previewText()}`);
                }
                counted.before = shown;
            },
        },
        {
            content: "The opt-out line is shown as counted",
            trigger: ".o_sms_counter_optout:contains(opt-out)",
            isCheck: true,
        },
        {
            content: "Prices: the information button",
            trigger: "a.o_sms_marketing_prices_toggle",
        },
        {
            content: "The default price is listed as Other countries, in the form",
            trigger:
                '.o_sms_marketing_gateway_prices.show .o_field_widget[name=gateway_prices_html]:contains("Other countries"):contains("United States")',
            isCheck: true,
        },
        {
            content: "Reading the prices did not save the mailing",
            trigger: ".o_form_status_indicator .o_form_button_save",
            isCheck: true,
        },
        ...stepUtils.saveForm(),
        {
            content: "Saving changes nothing to the count",
            trigger: ".o_sms_counter_chars",
            extra_trigger: ".o_form_saved",
            run() {
                if (counterCharacters() !== counted.before) {
                    throw new Error(`saved ${counterCharacters()} != unsaved ${counted.before}`);
                }
            },
        },
        {
            content: "Send",
            trigger: 'button[name="action_open_send_confirm"]',
        },
        {
            content: "The confirmation names recipients, parts, credits and the balance after sending",
            trigger: '.o_sms_confirm_recipients:contains("3")',
            extra_trigger: '.o_sms_confirm_balance_after:contains("97.50")',
            run() {
                const modal = document.querySelector(".modal");
                for (const selector of [".o_sms_confirm_parts", ".o_sms_confirm_credits"]) {
                    if (!modal.querySelector(selector).textContent.trim()) {
                        throw new Error(`${selector} is empty`);
                    }
                }
            },
        },
        {
            content: "Confirm",
            trigger: 'button[name="action_confirm"]',
        },
        {
            content: "The mailing is queued",
            trigger: '.o_statusbar_status button.o_arrow_button_current:contains("Scheduled")',
            extra_trigger: "body:not(:has(.modal))",
            isCheck: true,
        },
        ...nothingLeftToLoad(),
    ],
});

registry.category("web_tour.tours").add("sms_marketing_custom_statistics", {
    test: true,
    url: "/web#action=sms_marketing_custom.sms_marketing_mailing_action",
    steps: () => [
        {
            content: "Open the sent mailing",
            trigger: '.o_kanban_record:contains("Truth sent")',
        },
        {
            content: "Stat buttons keep value and label apart",
            trigger: 'button[name="action_view_traces_all"] .o_stat_value:contains("3")',
            extra_trigger: 'button[name="action_view_traces_all"] .o_stat_text:contains("Recipients")',
            isCheck: true,
        },
        {
            content: "Open the traces",
            trigger: 'button[name="action_view_traces_all"]',
        },
        {
            content: "Traces: recipient, country, state, clicked; no New button",
            trigger: '.o_list_view .o_data_row td[name="recipient_ref"]:contains("Ann")',
            extra_trigger: '.o_list_view .o_data_row td[name="country_id"]:contains("United States")',
            run() {
                if (document.querySelector(".o_list_button_add")) {
                    throw new Error("traces cannot be created by hand");
                }
            },
        },
        {
            content: "Open a trace",
            trigger: '.o_data_row td[name="number"]:contains("+12025550143")',
        },
        {
            content: "The trace is read-only and its mailing is not editable",
            trigger: '.o_form_readonly .o_field_widget[name="mailing_id"]:not(:has(input))',
            extra_trigger: '.o_field_widget[name="recipient_ref"]:contains("Ann")',
            isCheck: true,
        },
        ...nothingLeftToLoad(),
    ],
});
