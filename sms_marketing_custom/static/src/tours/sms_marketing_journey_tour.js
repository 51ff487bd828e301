/** @odoo-module **/
import { registry } from "@web/core/registry";
import { nothingLeftToLoad } from "./tour_idle";

/**
 * Build a two-step journey and test it (tests/test_journey_tour.py sets up the
 * list and checks what was saved): a new journey on a list, entered by hand; a
 * Send SMS step, then a second one after it; Test shows both SMS for the
 * list's first contact, and sends nothing. The journey's Save waits until the
 * step's dialog is gone: its row shows in the list while the dialog is still
 * open, and a Save found then would be the dialog's, pressed twice. Closing
 * the Test dialog reloads the journey and its chatter: the tour ends when they
 * are loaded.
 */
registry.category("web_tour.tours").add("sms_marketing_custom_journey", {
    test: true,
    url: "/web#action=sms_marketing_custom.sms_marketing_journey_action",
    steps: () => [
        {
            content: "Create a journey",
            trigger: ".o_control_panel .o-kanban-button-new",
        },
        {
            content: "Name it",
            trigger: '.o_field_widget[name="name"] input',
            run: "text Tour journey",
        },
        {
            content: "Its list",
            trigger: '.o_field_widget[name="list_ids"] input',
            run: "text Tour journey list",
        },
        {
            content: "Pick it",
            trigger: '.o-autocomplete--dropdown-item a:contains("Tour journey list")',
        },
        {
            content: "Entered by hand",
            trigger: '.o_field_widget[name="trigger"] select',
            run: "text Added by Hand",
        },
        {
            content: "Add the first step",
            trigger: '.o_field_widget[name="step_ids"] .o_field_x2many_list_row_add a',
        },
        {
            content: "The step's name",
            trigger: '.o_field_widget[name="name"] input',
            extra_trigger: ".modal .o_field_widget[name='step_type']",
            run: "text Hello",
        },
        {
            content: "Its SMS",
            trigger: '.o_field_widget[name="body"] textarea',
            run: "text Hello from the tour",
        },
        {
            content: "Save the step",
            trigger: ".modal-footer .o_form_button_save",
        },
        {
            content: "Save the journey",
            trigger: ".o_control_panel .o_form_button_save",
            extra_trigger: 'body:not(:has(.modal)) .o_field_widget[name="step_ids"] td:contains("Hello")',
            in_modal: false,
        },
        {
            content: "Add the second step",
            trigger: '.o_field_widget[name="step_ids"] .o_field_x2many_list_row_add a',
            extra_trigger: ".o_form_saved",
        },
        {
            content: "The second step's name",
            trigger: '.o_field_widget[name="name"] input',
            extra_trigger: ".modal .o_field_widget[name='step_type']",
            run: "text Reminder",
        },
        {
            content: "After the first",
            trigger: '.o_field_widget[name="parent_id"] input',
            run: "text Hello",
        },
        {
            content: "Pick it",
            trigger: '.o-autocomplete--dropdown-item a:contains("Hello")',
        },
        {
            content: "Its SMS",
            trigger: '.o_field_widget[name="body"] textarea',
            run: "text Reminder from the tour",
        },
        {
            content: "Save the step",
            trigger: ".modal-footer .o_form_button_save",
        },
        {
            content: "Save the journey",
            trigger: ".o_control_panel .o_form_button_save",
            extra_trigger: 'body:not(:has(.modal)) .o_field_widget[name="step_ids"] td:contains("Reminder")',
            in_modal: false,
        },
        {
            content: "Test it",
            trigger: 'button[name="action_open_test"]',
            extra_trigger: ".o_form_saved",
        },
        {
            content: "The first SMS for the list's contact",
            trigger: '.o_field_widget[name="timeline"]:contains("Hello from the tour")',
            isCheck: true,
        },
        {
            content: "Then the second",
            trigger: '.o_field_widget[name="timeline"]:contains("Reminder from the tour")',
            isCheck: true,
        },
        {
            content: "Close",
            trigger: ".modal-footer button.btn-secondary",
        },
        {
            content: "Back on the journey",
            trigger: ".o_form_view",
            extra_trigger: "body:not(:has(.modal))",
            isCheck: true,
        },
        ...nothingLeftToLoad(),
    ],
});
