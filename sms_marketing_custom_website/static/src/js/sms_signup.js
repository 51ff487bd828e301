/** @odoo-module **/

import publicWidget from "@web/legacy/js/public/public_widget";

/**
 * "Get our SMS offers": fetches the sign-up form of the block's list (it carries this visitor's CSRF
 * token, so it cannot be saved in the page) and records the page it is on. Not run in the editor: the
 * page is saved without the form.
 */
publicWidget.registry.SmsMarketingSignup = publicWidget.Widget.extend({
    selector: ".s_sms_marketing_signup",
    disabledInEditableMode: true,

    async start() {
        await this._super(...arguments);
        const container = this.el.querySelector(".o_sms_marketing_signup_form");
        if (!container) {
            return;
        }
        const listId = parseInt(this.el.dataset.listId || "0", 10) || 0;
        const response = await fetch(`/sms_marketing/signup/form?list_id=${listId}`, {
            credentials: "same-origin",
        });
        if (!response.ok) {
            return; // no list offered on the website: the block shows its text only
        }
        container.innerHTML = await response.text();
        const pageUrl = container.querySelector("input[name='page_url']");
        if (pageUrl) {
            pageUrl.value = window.location.href;
        }
        this.container = container;
    },

    destroy() {
        if (this.container) {
            this.container.replaceChildren();
        }
        this._super(...arguments);
    },
});

export default publicWidget.registry.SmsMarketingSignup;
