/** @odoo-module **/
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";
import { nothingLeftToLoad } from "./tour_idle";

/**
 * An A/B test from creation to its winner (tests/test_ab_tour.py sets up the
 * list, runs the queue between the two tours and checks what was sent):
 * write version A, turn the A/B test on, write version B, choose to pick the
 * winner by hand, send; then, with the test share sent, read each version's
 * figures and send version B to the rest.
 */
registry.category("web_tour.tours").add("sms_marketing_custom_ab_create", {
    test: true,
    url: "/web#action=sms_marketing_custom.sms_marketing_mailing_action",
    steps: () => [
        {
            content: "Create a mailing",
            trigger: ".o_control_panel .o-kanban-button-new",
        },
        {
            content: "Subject",
            trigger: '.o_field_widget[name="subject"] input',
            run: "text AB spring sale",
        },
        {
            content: "Select the list",
            trigger: '.o_field_widget[name="list_ids"] input',
            run: "text AB list",
        },
        {
            content: "Pick it",
            trigger: '.o-autocomplete--dropdown-item a:contains("AB list")',
        },
        {
            content: "Write version A",
            trigger: '.o_field_widget[name="body"] textarea',
            extra_trigger: '.o_sms_marketing_audience_to_send:contains("4")',
            run: "text Spring sale: 20% off today!",
        },
        {
            content: "Open the settings",
            trigger: 'a.nav-link:contains("Settings")',
        },
        {
            content: "Turn the A/B test on",
            trigger: '.o_field_widget[name="ab_testing"] input',
        },
        {
            content: "Open the A/B test",
            trigger: 'a.nav-link:contains("A/B Test")',
        },
        {
            content: "Half of the audience in the test",
            trigger: '.o_field_widget[name="ab_test_share"] input',
            run: "text 50",
        },
        {
            content: "The winner is chosen by hand",
            trigger: '.o_field_widget[name="ab_winner_metric"] select',
            run: "text I choose",
        },
        {
            content: "Version A is the SMS content; open version B",
            trigger: '.o_field_widget[name="variant_ids"] .o_data_row:contains("Version B") td[name="name"]',
            extra_trigger:
                '.o_field_widget[name="variant_ids"] .o_data_row:contains("Version A"):contains("Spring sale: 20% off today!")',
        },
        {
            content: "Write version B",
            trigger: '.o_field_widget[name="own_body"] textarea',
            run: "text Only today: 20% off everything in store",
        },
        {
            content: "Version B has its own preview",
            trigger: '.o_sms_preview_body:contains("Only today")',
            isCheck: true,
        },
        {
            content: "Keep it",
            trigger: ".o_form_button_save",
        },
        {
            content: "Both versions are listed",
            trigger: '.o_field_widget[name="variant_ids"] .o_data_row:contains("Only today")',
            extra_trigger: "body:not(:has(.modal))",
            isCheck: true,
        },
        ...stepUtils.saveForm(),
        {
            content: "Send",
            trigger: 'button[name="action_open_send_confirm"]',
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

registry.category("web_tour.tours").add("sms_marketing_custom_ab_winner", {
    test: true,
    url: "/web#action=sms_marketing_custom.sms_marketing_mailing_action",
    steps: () => [
        {
            content: "The mailing waits in A/B Testing",
            trigger: '.o_kanban_group:contains("A/B Testing") .o_kanban_record:contains("AB spring sale")',
        },
        {
            content: "The form says the test share is sent",
            trigger: ".o_sms_marketing_ab_testing:contains(Choose the winner in the A/B Test tab)",
            isCheck: true,
        },
        {
            content: "Open the A/B test",
            trigger: 'a.nav-link:contains("A/B Test")',
        },
        {
            content: "Each version's figures: one SMS sent each",
            trigger: '.o_field_widget[name="variant_ids"] .o_data_row:contains("Version B") td[name="sent_count"]:contains("1")',
            extra_trigger: '.o_field_widget[name="variant_ids"] .o_data_row:contains("Version A") td[name="sent_count"]:contains("1")',
            isCheck: true,
        },
        {
            content: "Send version B to the rest",
            trigger: '.o_field_widget[name="variant_ids"] .o_data_row:contains("Version B") button[name="action_choose_winner"]',
        },
        {
            content: "Confirm",
            trigger: ".modal-footer .btn-primary",
        },
        {
            content: "The rest is being sent",
            trigger: '.o_statusbar_status button.o_arrow_button_current:contains("Sending")',
            isCheck: true,
        },
        ...nothingLeftToLoad(),
    ],
});

/**
 * A version opened from the list counts what it sends from the start (tests/test_ab_tour.py,
 * an Italian marketer, a saved mailing of 33 characters without opt-out line): version A on
 * turning the test on, before anything is saved; version B's own text kept and counted when
 * the mailing's text changes afterwards. (A step's trigger is looked for inside the open dialog.)
 */
const versionRow = (letter) => `.o_field_widget[name="variant_ids"] .o_data_row:contains("Versione ${letter}")`;
const counterSays = (characters, parts) => [
    {
        content: `The counter says ${characters} characters as soon as the version opens`,
        trigger: `.o_sms_counter_chars:contains("${characters} caratteri"):contains("(${characters}/160")`,
        extra_trigger: `.modal .o_sms_counter_parts:contains("${parts} parte SMS")`,
        isCheck: true,
    },
    {
        content: "and so do the figures under the preview",
        trigger: `.o_form_view div.small:contains("${characters} caratteri, parti SMS: ${parts}")`,
        isCheck: true,
    },
];
registry.category("web_tour.tours").add("sms_marketing_custom_ab_version_counter", {
    test: true,
    steps: () => [
        {
            content: "Open the settings",
            trigger: 'a.nav-link[name="settings"]',
            extra_trigger: '.o_field_widget[name="body"] textarea',
        },
        {
            content: "Turn the A/B test on",
            trigger: '.o_field_widget[name="ab_testing"] input',
        },
        {
            content: "Open the A/B test",
            trigger: 'a.nav-link[name="ab_test"]',
        },
        {
            content: "Open version A, the mailing's text",
            trigger: `${versionRow("A")} td[name="name"]`,
            extra_trigger: `${versionRow("A")}:contains("Saldi di primavera: 20% su tutto!")`,
        },
        ...counterSays(33, 1),
        {
            content: "Close it",
            trigger: ".o_form_button_cancel",
        },
        {
            content: "Open version B, a copy of the text to start from",
            trigger: `${versionRow("B")} td[name="name"]`,
            extra_trigger: "body:not(:has(.modal))",
        },
        ...counterSays(33, 1),
        {
            content: "Write version B",
            trigger: ".o_form_view textarea",
            run: "text Solo oggi: 40% di sconto",
        },
        ...counterSays(24, 1),
        {
            content: "Keep it",
            trigger: ".o_form_button_save",
        },
        {
            content: "Back to the SMS content",
            trigger: 'a.nav-link[name="sms_body"]',
            extra_trigger: "body:not(:has(.modal))",
        },
        {
            content: "Change the mailing's text, version A",
            trigger: '.o_field_widget[name="body"] textarea',
            run: "text Saldi di primavera: 25% su tutto il negozio!",
        },
        {
            content: "The counter follows",
            trigger: '.o_sms_counter_chars:contains("44 caratteri")',
            isCheck: true,
        },
        {
            content: "Open the A/B test again",
            trigger: 'a.nav-link[name="ab_test"]',
        },
        {
            content: "Version B keeps its own text",
            trigger: `${versionRow("B")}:contains("Solo oggi: 40% di sconto")`,
            extra_trigger: `${versionRow("A")}:contains("25% su tutto il negozio!")`,
            isCheck: true,
        },
        {
            content: "Open version B",
            trigger: `${versionRow("B")} td[name="name"]`,
        },
        ...counterSays(24, 1),
        {
            content: "Close it",
            trigger: ".o_form_button_cancel",
        },
        {
            content: "Open version A",
            trigger: `${versionRow("A")} td[name="name"]`,
            extra_trigger: "body:not(:has(.modal))",
        },
        ...counterSays(44, 1),
        {
            content: "Close it",
            trigger: ".o_form_button_cancel",
        },
        ...stepUtils.saveForm(),
        ...nothingLeftToLoad(),
    ],
});
