/** @odoo-module **/
/**
 * SMS encoding and segment counting: the JavaScript twin of
 * tools/sms_encoding.py (count_segments, non_gsm_characters,
 * replace_lookalikes) and of tools/links.py (find_urls). Keep them equal: the
 * test suite runs the same table through both and requires identical answers.
 */

const GSM7_BASIC =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION = "\f^{}\\[~]|€";
const GSM7_BASIC_SET = new Set(GSM7_BASIC);
const GSM7_EXTENSION_SET = new Set(GSM7_EXTENSION);

export const GSM7_SINGLE = 160;
export const GSM7_MULTI = 153;
export const UCS2_SINGLE = 70;
export const UCS2_MULTI = 67;

export const GSM7_LOOKALIKES = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "\u0060": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2007": " ",
    "\u2008": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u205f": " ",
    "\u3000": " ",
    "\u200b": "",
    "\ufeff": "",
    "\u2022": "-",
    "\u00b7": ".",
    "\u02c6": "^",
    "\u02dc": "~",
    "\u2039": "<",
    "\u203a": ">",
    "\t": " ",
    "\u00e7": "Ç",
};

function gsm7Units(text) {
    const units = [];
    for (const char of text) {
        if (GSM7_BASIC_SET.has(char)) {
            units.push(1);
        } else if (GSM7_EXTENSION_SET.has(char)) {
            units.push(2);
        } else {
            return null;
        }
    }
    return units;
}

function ucs2Units(text) {
    // iterating a string yields code points: an astral one is a surrogate pair
    return Array.from(text, (char) => char.length);
}

function pack(units, perSegment) {
    let segments = 1;
    let used = 0;
    for (const size of units) {
        if (used + size > perSegment) {
            segments += 1;
            used = 0;
        }
        used += size;
    }
    return segments;
}

/**
 * @param {string} text
 * @returns {{encoding: string, units: number, segments: number, per_segment: number}}
 */
export function countSegments(text) {
    text = text || "";
    let units = gsm7Units(text);
    let encoding, single, multi;
    if (units !== null) {
        [encoding, single, multi] = ["GSM-7", GSM7_SINGLE, GSM7_MULTI];
    } else {
        units = ucs2Units(text);
        [encoding, single, multi] = ["UCS-2", UCS2_SINGLE, UCS2_MULTI];
    }
    const total = units.reduce((sum, size) => sum + size, 0);
    if (!total) {
        return { encoding, units: 0, segments: 0, per_segment: single };
    }
    if (total <= single) {
        return { encoding, units: total, segments: 1, per_segment: single };
    }
    return { encoding, units: total, segments: pack(units, multi), per_segment: multi };
}

export function nonGsmCharacters(text) {
    const seen = [];
    for (const char of text || "") {
        if (!GSM7_BASIC_SET.has(char) && !GSM7_EXTENSION_SET.has(char) && !seen.includes(char)) {
            seen.push(char);
        }
    }
    return seen;
}

export function replaceLookalikes(text) {
    return Array.from(text || "", (char) =>
        char in GSM7_LOOKALIKES ? GSM7_LOOKALIKES[char] : char
    ).join("");
}

// tools/links.py: URL_PATTERN = r"https?://[^\s<>\"']+" where Python's \s is
// str.isspace(); JavaScript's \s differs, so the same set is spelled out.
const PY_SPACE = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
export const URL_RE = new RegExp(`https?://[^${PY_SPACE}<>"']+`, "g");
const TRAILING_PUNCTUATION = ".,;:!?)]}";

/** Mirror of tools/links.py find_urls: [start, end, url] spans. */
export function findUrls(text) {
    const spans = [];
    for (const match of (text || "").matchAll(URL_RE)) {
        let url = match[0];
        while (url && TRAILING_PUNCTUATION.includes(url[url.length - 1])) {
            url = url.slice(0, -1);
        }
        if (Array.from(url).length > "https://".length) {
            spans.push([match.index, match.index + url.length, url]);
        }
    }
    return spans;
}

/**
 * The text as it will be sent, for counting: each URL as a tracked short link
 * of ``linkLength`` characters, plus the opt-out suffix when included (mirror
 * of the mailing's _get_sms_text_to_count).
 */
export function smsTextToCount(body, { linkLength = 0, optoutSuffix = "", includeOptout = false } = {}) {
    body = body || "";
    let text = "";
    let position = 0;
    for (const [start, end] of findUrls(body)) {
        text += body.slice(position, start) + "x".repeat(linkLength);
        position = end;
    }
    text += body.slice(position);
    if (includeOptout && text) {
        text += optoutSuffix || "";
    }
    return text;
}
