/** @odoo-module **/

import options from "@web_editor/js/editor/snippets.options";

/** The editor's choice of the list a "Get our SMS offers" block joins: the lists offered on the website. */
options.registry.SmsMarketingSignup = options.Class.extend({
    init() {
        this._super(...arguments);
        this.orm = this.bindService("orm");
    },

    async _renderCustomXML(uiFragment) {
        const lists = await this.orm.searchRead(
            "sms.marketing.list",
            [["website_signup", "=", true]],
            ["name"],
            { context: this.options.recordInfo.context }
        );
        const selectEl = uiFragment.querySelector("we-select[data-attribute-name='listId']");
        for (const list of lists) {
            const button = document.createElement("we-button");
            button.dataset.selectDataAttribute = list.id;
            button.textContent = list.name;
            selectEl.appendChild(button);
        }
    },
});
