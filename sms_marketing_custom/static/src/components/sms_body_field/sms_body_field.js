/** @odoo-module **/
/**
 * The SMS Content field: a text area with, beneath it, a live counter of what
 * will really be sent (characters, encoding, SMS parts, the characters that
 * force Unicode) and a button that replaces look-alikes to stay in GSM-7.
 * It counts the mailing's preview (the server's ``sms_preview``: the SMS the
 * preview recipient receives, placeholders rendered, tracked links, opt-out
 * line), saved or not. While the user types, the text is sent to the record
 * after a short pause so that the preview follows; until it comes back, the
 * typed text is counted with links and the opt-out line at their sent length.
 */
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { TextField, textField } from "@web/views/fields/text/text_field";
import { onWillUnmount, onWillUpdateProps, useEffect, useState } from "@odoo/owl";

import {
    countSegments,
    nonGsmCharacters,
    replaceLookalikes,
    smsTextToCount,
    GSM7_LOOKALIKES,
} from "@sms_marketing_custom/js/sms_encoding";

// milliseconds of pause in typing before the preview is refreshed
export const UPDATE_DELAY = 400;

/**
 * A text area whose text reaches the record while it is typed (after a short pause), not only when
 * the user leaves it: what the server computes from it (a preview, a count, a price) follows the typing.
 */
export class SmsLiveTextField extends TextField {
    setup() {
        super.setup();
        useEffect(
            (textarea) => {
                if (!textarea) {
                    return;
                }
                const onInput = () => {
                    this.onTyped(textarea.value);
                    this.scheduleUpdate();
                };
                textarea.addEventListener("input", onInput);
                return () => textarea.removeEventListener("input", onInput);
            },
            () => [this.textareaRef.el]
        );
        // the form reuses this field for the next record: what was typed here is not that record's
        onWillUpdateProps((nextProps) => {
            if (nextProps.record !== this.props.record) {
                clearTimeout(this.updateTimeout);
            }
        });
        onWillUnmount(() => clearTimeout(this.updateTimeout));
    }

    /** Called with the text at each keystroke, before the record has it. */
    onTyped(_value) {}

    /**
     * Commit the typed text after a pause, as leaving the box would (the input hook's own change
     * handler, which knows what is typed and what was last committed), to the record it was typed in.
     */
    scheduleUpdate() {
        clearTimeout(this.updateTimeout);
        const record = this.props.record;
        this.updateTimeout = setTimeout(() => {
            const textarea = this.textareaRef.el;
            if (textarea && record === this.props.record) {
                textarea.dispatchEvent(new Event("change"));
            }
        }, UPDATE_DELAY);
    }
}

export class SmsBodyField extends SmsLiveTextField {
    static template = "sms_marketing_custom.SmsBodyField";

    setup() {
        super.setup();
        this.smsState = useState({ text: this.props.record.data[this.props.name] || "" });
        // and the record when it changes (onchange, discard, another record)
        useEffect(
            (value) => {
                if (!this.textareaRef.el || this.textareaRef.el.value === value) {
                    this.smsState.text = value;
                }
            },
            () => [this.props.record.data[this.props.name] || ""]
        );
    }

    /** The counter follows the text as it is typed; the server's preview follows after the pause. */
    onTyped(value) {
        this.smsState.text = value;
    }

    get sentText() {
        const data = this.props.record.data;
        if (this.smsState.text === (data[this.props.name] || "") && typeof data.sms_preview === "string") {
            return data.sms_preview;
        }
        return smsTextToCount(this.smsState.text, {
            linkLength: data.sms_link_length || 0,
            optoutSuffix: data.sms_optout_suffix || "",
            includeOptout: Boolean(data.include_optout),
        });
    }

    get info() {
        const text = this.sentText;
        const info = countSegments(text);
        const unicodeChars = nonGsmCharacters(this.smsState.text);
        return {
            ...info,
            characters: Array.from(text).length,
            isUnicode: info.encoding === "UCS-2",
            encodingLabel: info.encoding === "UCS-2" ? _t("Unicode (UCS-2)") : _t("GSM-7"),
            // two whole terms: a plural made by adding "s" reads "parte SMSs" in Italian
            partsWord: info.segments === 1 ? _t("SMS part") : _t("SMS parts"),
            unicodeChars: unicodeChars.map((char) => this.describeChar(char)),
            fixable: unicodeChars.some((char) => char in GSM7_LOOKALIKES),
            capacity: info.segments ? info.segments * info.per_segment : info.per_segment,
            optoutCharacters:
                this.props.record.data.include_optout && text
                    ? Array.from(this.props.record.data.sms_optout_suffix || "").length
                    : 0,
        };
    }

    describeChar(char) {
        if (char === "\u00a0") {
            return _t("non-breaking space");
        }
        if (/\s/.test(char) || char.codePointAt(0) < 32) {
            return `U+${char.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
        }
        return char;
    }

    async onReplaceLookalikes() {
        const textarea = this.textareaRef.el;
        const current = textarea ? textarea.value : this.smsState.text;
        const replaced = replaceLookalikes(current);
        if (textarea) {
            textarea.value = replaced;
        }
        this.smsState.text = replaced;
        await this.props.record.update({ [this.props.name]: replaced });
    }
}

export const smsBodyField = {
    ...textField,
    component: SmsBodyField,
    displayName: _t("SMS Content with counter"),
    fieldDependencies: [
        { name: "include_optout", type: "boolean" },
        { name: "sms_link_length", type: "integer" },
        { name: "sms_optout_suffix", type: "char" },
        { name: "sms_preview", type: "text" },
    ],
};

registry.category("fields").add("sms_marketing_body", smsBodyField);

// a conversation's reply box: the server's count and price of the reply follow the typing
export const smsLiveTextField = { ...textField, component: SmsLiveTextField };

registry.category("fields").add("sms_marketing_live_text", smsLiveTextField);
