/** @odoo-module **/
/**
 * Credits as the user's language writes numbers, with the decimals that mean something: two, or up
 * to four when a price per message needs them ("21,00", "1.248,50", "0,0075"), instead of the four
 * every stored amount keeps ("21,0000").
 */

import { localization } from "@web/core/l10n/localization";
import { registry } from "@web/core/registry";
import { FloatField, floatField } from "@web/views/fields/float/float_field";
import { formatFloat } from "@web/views/fields/formatters";

const KEPT_DECIMALS = 2;
const STORED_DECIMALS = 4;

export function formatCredits(value) {
    if (value === false || value === null || value === undefined) {
        return "";
    }
    const text = formatFloat(value, { digits: [16, STORED_DECIMALS] });
    const point = localization.decimalPoint;
    const [whole, decimals = ""] = text.split(point);
    return `${whole}${point}${decimals.replace(/0+$/, "").padEnd(KEPT_DECIMALS, "0")}`;
}

export class CreditsField extends FloatField {
    get formattedValue() {
        // while typing, the number as it is stored; otherwise as it reads
        if (!this.props.readonly && this.state.hasFocus) {
            return super.formattedValue;
        }
        return formatCredits(this.value);
    }
}

registry.category("fields").add("sms_credits", { ...floatField, component: CreditsField });
registry.category("formatters").add("sms_credits", formatCredits);
