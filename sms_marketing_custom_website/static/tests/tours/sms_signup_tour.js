/** @odoo-module **/

import { registry } from "@web/core/registry";

/** Throws when something of the page is wider than the window (a phone would scroll sideways). */
function checkFitsWindow() {
    const width = window.innerWidth;
    if (document.documentElement.scrollWidth > width) {
        throw new Error(`the page is ${document.documentElement.scrollWidth} px wide in a ${width} px window`);
    }
    for (const el of document.querySelectorAll(".s_sms_marketing_signup form :is(input, select, button, label)")) {
        if (el.closest(".o_sms_marketing_signup_hp")) {
            continue; // the honeypot is off-screen on purpose
        }
        const box = el.getBoundingClientRect();
        if (box.width && (box.left < 0 || box.right > width)) {
            throw new Error(`${el.tagName} ${el.name || ""} leaves the window (${box.left}-${box.right} of ${width})`);
        }
    }
}

registry.category("web_tour.tours").add("sms_marketing_website_signup", {
    test: true,
    url: "/sms-offers",
    steps: () => [
        {
            content: "The block's form is there, with the list's consent text",
            trigger: ".s_sms_marketing_signup form .o_sms_marketing_signup_consent:contains('Reply STOP')",
            run: checkFitsWindow,
        },
        {
            content: "Type a national number (the country is the website's: Belgium)",
            trigger: ".s_sms_marketing_signup input[name='phone']",
            run: "text 0471 55 44 33",
        },
        {
            content: "Tick the consent",
            trigger: ".s_sms_marketing_signup input[name='consent']",
            run: "click",
        },
        {
            content: "Send",
            trigger: ".s_sms_marketing_signup button[type='submit']",
            run: "click",
        },
        {
            content: "The answer: check your phone",
            trigger: ".o_sms_marketing_signup_answer h2:contains('Check your phone')",
            run: checkFitsWindow,
        },
    ],
});
