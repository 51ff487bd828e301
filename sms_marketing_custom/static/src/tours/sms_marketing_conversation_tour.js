/** @odoo-module **/
import { registry } from "@web/core/registry";
import { nothingLeftToLoad } from "./tour_idle";

/**
 * A reply arrived (tests/test_conversation_tour.py posts it through the signed
 * webhook): the marketer opens SMS Campaigns > Conversations, finds the unread
 * conversation, reads the thread, writes an answer (the counter and the price
 * show) and sends it; the answer joins the thread and nothing is unread.
 */
registry.category("web_tour.tours").add("sms_marketing_custom_conversation", {
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
            content: "Open Conversations",
            trigger: '.o_menu_sections a[data-menu-xmlid="sms_marketing_custom.sms_marketing_conversation_menu"]',
        },
        {
            content: "The unread conversation, with the person's name and the last message",
            trigger: '.o_data_row:has(td:contains("Is the offer valid in store?")) td:contains("Tour Replier")',
        },
        {
            content: "The thread shows the reply",
            trigger: '.o_field_widget[name="sms_message_ids"] td:contains("Is the offer valid in store?")',
            isCheck: true,
        },
        {
            content: "Write the answer",
            trigger: '.o_field_widget[name="reply_body"] textarea',
            run: "text Yes, in every store until Sunday.",
        },
        {
            content: "The counter and the price of the answer",
            trigger: '.o_field_widget[name="reply_cost"]:contains("credits")',
            extra_trigger: '.o_field_widget[name="reply_sms_info"]:contains("33 characters")',
            isCheck: true,
        },
        {
            content: "Send it",
            trigger: 'button[name="action_send_reply"]',
        },
        {
            content: "The answer joins the thread",
            trigger: '.o_field_widget[name="sms_message_ids"] td:contains("Yes, in every store until Sunday.")',
            extra_trigger: '.o_field_widget[name="unread_count"]:contains("0")',
            isCheck: true,
        },
        ...nothingLeftToLoad(),
    ],
});
