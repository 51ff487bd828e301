/** @odoo-module **/
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";
import { nothingLeftToLoad } from "./tour_idle";

/**
 * A marketer's day: create a mailing from the dashboard to a list, switch to
 * Contacts and filter them with the domain editor, write an SMS with an emoji
 * and a link and read the counter, schedule it, and send a test to two numbers.
 * (tests/test_mailing_tour.py sets up the data and checks the result.)
 */
const domain = ".o_sms_marketing_domain";
// the default filter of Contacts has two rules: the new ones are the 3rd and the 4th
const condition = (index) => `${domain} .o_tree_editor_condition:eq(${index})`;
const popover = ".o_model_field_selector_popover";

/** A run() choosing the option of a <select> by its label (tree editor selects hold JSON values). */
function selectLabel(label) {
    return function () {
        const select = this.$anchor[0];
        const option = [...select.options].find((opt) => opt.textContent.trim() === label);
        if (!option) {
            throw new Error(`no option ${label} in ${[...select.options].map((o) => o.textContent)}`);
        }
        select.value = option.value;
        select.dispatchEvent(new Event("change", { bubbles: true }));
    };
}

function addRule(index, fieldSearch, relationName, fieldName, fieldSearch2) {
    const steps = [
        {
            content: "Add a rule to the filter",
            trigger: `${domain} a:contains("New Rule")`,
        },
        {
            content: "Open the field selector of the new rule",
            trigger: `${condition(index)} .o_model_field_selector`,
        },
        {
            content: `Search ${fieldSearch}`,
            trigger: `${popover} .o_model_field_selector_popover_search input`,
            run: `text ${fieldSearch}`,
            in_modal: false,
        },
    ];
    if (relationName) {
        steps.push(
            {
                content: `Follow ${relationName}`,
                trigger: `${popover} li[data-name="${relationName}"] .o_model_field_selector_popover_item_relation`,
                in_modal: false,
            },
            {
                content: `Search ${fieldSearch2}`,
                trigger: `${popover} .o_model_field_selector_popover_search input`,
                extra_trigger: `${popover} .o_model_field_selector_popover_prev_page`,
                run: `text ${fieldSearch2}`,
                in_modal: false,
            }
        );
    }
    steps.push({
        content: `Pick ${fieldName}`,
        trigger: `${popover} li[data-name="${fieldName}"] button.o_model_field_selector_popover_item_name:contains("${
            fieldSearch2 || fieldSearch
        }")`,
        in_modal: false,
    });
    return steps;
}

registry.category("web_tour.tours").add("sms_marketing_custom_mailing", {
    test: true,
    url: "/web#action=sms_marketing_custom.sms_marketing_mailing_action",
    steps: () => [
        {
            content: "Create a mailing from the dashboard",
            trigger: ".o_control_panel .o-kanban-button-new",
        },
        {
            content: "Subject",
            trigger: '.o_field_widget[name="subject"] input',
            run: "text Tour spring sale",
        },
        {
            content: "Mailing List is the default and first recipient choice",
            trigger: '.o_field_widget[name="recipient_choice"] .o_radio_item:first:contains("Mailing List") input:checked',
            isCheck: true,
        },
        {
            content: "Select a mailing list",
            trigger: '.o_field_widget[name="list_ids"] input',
            run: "text Tour list",
        },
        {
            content: "Pick it",
            trigger: '.o-autocomplete--dropdown-item a:contains("Tour list")',
        },
        {
            content: "The audience of the list is counted",
            trigger: '.o_sms_marketing_audience_to_send:contains("2")',
            isCheck: true,
        },
        {
            content: "Switch the recipients to Contacts",
            trigger: '.o_field_widget[name="recipient_choice"] .o_radio_item:contains("Contact"):not(:contains("Mailing")) input',
        },
        {
            content: "The domain editor shows the default filter of Contacts",
            trigger: `${domain} .o_tree_editor_condition`,
            isCheck: true,
        },
        {
            content: "The default filter has two rules",
            trigger: `${condition(1)}`,
            extra_trigger: `${domain}:not(:has(.o_tree_editor_condition:eq(2)))`,
            isCheck: true,
        },
        ...addRule(2, "Country", "country_id", "name", "Country Name"),
        {
            content: "Operator =",
            // once re-rendered for a text field (no many2one autocomplete left)
            trigger: `${condition(2)}:not(:has(.o-autocomplete)) .o_tree_editor_editor:eq(1) select`,
            run: selectLabel("="),
        },
        {
            content: "United States",
            trigger: `${condition(2)}:not(:has(.o-autocomplete)) .o_tree_editor_editor:eq(2) input`,
            run: "text United States",
        },
        ...addRule(3, "Blacklist", false, "blacklisted"),
        {
            content: "Operator is",
            trigger: // once re-rendered for a boolean: "is" / "is not", no "is in"
            `${condition(3)} .o_tree_editor_editor:eq(1) select:not(:has(option:contains("is in")))`,
            run: selectLabel("is"),
        },
        {
            content: "not set",
            trigger: `${condition(3)} .o_tree_editor_editor:eq(2) select`,
            run: selectLabel("not set"),
        },
        {
            content: "The live count follows the filter: two US contacts not blacklisted",
            trigger: '.o_sms_marketing_audience_to_send:contains("2")',
            extra_trigger: `${condition(2)} .o_model_field_selector:contains("Country Name")`,
            isCheck: true,
        },
        {
            content: "Write the SMS",
            trigger: '.o_field_widget[name="body"] textarea',
            run: "text Spring sale \u{1F337} today: https://example.com/spring?from=sms",
        },
        {
            content: "The counter says Unicode because of the emoji",
            trigger: '.o_sms_counter_unicode_chars:contains("\u{1F337}")',
            extra_trigger: '.o_sms_counter_encoding:contains("Unicode")',
            isCheck: true,
        },
        {
            content: "The counter counts the parts",
            trigger: ".o_sms_counter_parts:contains(SMS part)",
            isCheck: true,
        },
        ...stepUtils.saveForm(),
        {
            content: "Schedule",
            trigger: 'button[name="action_open_schedule_wizard"]',
        },
        {
            content: "Date and time, in the user's time zone",
            trigger: '.o_field_widget[name="schedule_date"] input',
            run: "text 12/31/2035 10:00:00",
        },
        {
            content: "Confirm",
            trigger: 'button[name="action_schedule"]',
        },
        {
            content: "The mailing is scheduled",
            trigger: '.o_statusbar_status button.o_arrow_button_current:contains("Scheduled")',
            extra_trigger: "body:not(:has(.modal))",
            isCheck: true,
        },
        {
            content: "Open the test wizard",
            trigger: 'button[name="action_test"]',
        },
        {
            content: "Two numbers, separated by a comma",
            trigger: '.o_field_widget[name="numbers"] input',
            run: "text +1 202-555-0143, +32 470 98 76 54",
        },
        {
            content: "Send the test",
            trigger: 'button[name="action_send"]',
        },
        {
            content: "Each number has its result",
            trigger: '.o_field_widget[name="result_html"]:contains("+12025550143"):contains("+32470987654")',
            isCheck: true,
        },
        {
            content: "Close",
            trigger: ".modal-footer button:contains(Close)",
        },
        {
            content: "The test is logged on the chatter",
            trigger: '.o-mail-Message:contains("Test SMS")',
            extra_trigger: "body:not(:has(.modal))",
            isCheck: true,
        },
        ...nothingLeftToLoad(),
    ],
});
