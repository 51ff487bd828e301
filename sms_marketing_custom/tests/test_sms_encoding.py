"""Segment counting: one table, checked in Python and through the OWL counter's module in Chromium."""

import json

from odoo.tests import BaseCase, HttpCase, tagged

from ..tools.links import find_urls
from ..tools.sms_encoding import count_segments, non_gsm_characters, replace_lookalikes

GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
SMILE = "\U0001f600"  # 😀, a surrogate pair in UTF-16
CLEF = "\U0001d11e"  # 𝄞, musical symbol: a non-emoji surrogate pair
FLAG_US = "\U0001f1fa\U0001f1f8"  # 🇺🇸: two regional indicators, four units
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦: 4 pairs + 3 ZWJ
THUMB_SKIN = "\U0001f44d\U0001f3fd"  # 👍🏽: emoji + skin tone modifier
HEART = "\u2764\ufe0f"  # ❤️: BMP symbol + variation selector

# (label, text, encoding, units, segments, per_segment), each figure worked out by hand.
SEGMENT_TABLE = [
    ("empty", "", "GSM-7", 0, 0, 160),
    ("hello", "Hello", "GSM-7", 5, 1, 160),
    ("whole basic alphabet", GSM_BASIC, "GSM-7", len(GSM_BASIC), 1, 160),
    ("160 septets: one SMS", "a" * 160, "GSM-7", 160, 1, 160),
    ("161 septets: two SMS", "a" * 161, "GSM-7", 161, 2, 153),
    ("306 septets: two full parts", "a" * 306, "GSM-7", 306, 2, 153),
    ("307 septets: three parts", "a" * 307, "GSM-7", 307, 3, 153),
    ("extension table: two septets each", "^{}\\[~]|€\f", "GSM-7", 20, 1, 160),
    ("euro at the end of a single SMS", "a" * 158 + "€", "GSM-7", 160, 1, 160),
    ("euro one septet too long", "a" * 159 + "€", "GSM-7", 161, 2, 153),
    # 152 + 2 does not fit 153: the euro starts part 2; 306 septets need 3 parts
    ("extension char on a part border", "a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3, 153),
    ("extension char just fitting a border", "a" * 151 + "€" + "a" * 153, "GSM-7", 306, 2, 153),
    ("80 euros: 160 septets", "€" * 80, "GSM-7", 160, 1, 160),
    ("81 euros: 76 per part", "€" * 81, "GSM-7", 162, 2, 153),
    ("CRLF is GSM-7", "Line 1\r\nLine 2", "GSM-7", 14, 1, 160),
    ("accents of the alphabet stay GSM-7", "Café à Ölstad? ¿Qué? Ñ", "GSM-7", 22, 1, 160),
    ("an accent outside the alphabet forces UCS-2", "Málaga", "UCS-2", 6, 1, 70),
    ("lowercase c cedilla forces UCS-2", "ça va", "UCS-2", 5, 1, 70),
    ("curly apostrophe forces UCS-2", "It\u2019s on", "UCS-2", 7, 1, 70),
    ("70 BMP units: one SMS", "ê" * 70, "UCS-2", 70, 1, 70),
    ("71 BMP units: two SMS", "ê" * 71, "UCS-2", 71, 2, 67),
    ("35 emoji: 70 units, one SMS", SMILE * 35, "UCS-2", 70, 1, 70),
    ("36 emoji: 33 per part", SMILE * 36, "UCS-2", 72, 2, 67),
    # 66 + 2 does not fit 67: the pair starts part 2; 134 units need 3 parts
    ("surrogate pair on a part border", "a" * 66 + SMILE + "a" * 66, "UCS-2", 134, 3, 67),
    ("surrogate pair just fitting a border", "a" * 65 + SMILE + "a" * 67, "UCS-2", 134, 2, 67),
    ("non-emoji surrogate pair on a border", "b" * 66 + CLEF + "b" * 66, "UCS-2", 134, 3, 67),
    ("a flag is two pairs", FLAG_US, "UCS-2", 4, 1, 70),
    # a flag may be cut between its two regional indicators, as on real networks
    ("flag across a part border", "a" * 65 + FLAG_US + "a" * 66, "UCS-2", 135, 3, 67),
    ("flag after 66 units", "a" * 66 + FLAG_US + "a" * 63, "UCS-2", 133, 2, 67),
    ("18 flags", FLAG_US * 18, "UCS-2", 72, 2, 67),
    ("ZWJ family: 4 pairs + 3 joiners", FAMILY, "UCS-2", 11, 1, 70),
    ("ZWJ family across a border", "a" * 60 + FAMILY + "a" * 60, "UCS-2", 131, 2, 67),
    ("ZWJ families filling parts", FAMILY * 13, "UCS-2", 143, 3, 67),
    ("skin tone modifier", THUMB_SKIN, "UCS-2", 4, 1, 70),
    ("variation selector", "I " + HEART + " SMS", "UCS-2", 8, 1, 70),
    ("1,600 GSM-7 characters", "a" * 1600, "GSM-7", 1600, 11, 153),
    ("1,600 characters with extension", "€" * 800, "GSM-7", 1600, 11, 153),
    ("1,600 BMP units", "ê" * 1600, "UCS-2", 1600, 24, 67),
    ("1,600 emoji units", SMILE * 800, "UCS-2", 1600, 25, 67),
]

# (text, characters forcing UCS-2, GSM-7 version)
LOOKALIKE_TABLE = [
    (
        "\u201cHello\u201d \u2014 it\u2019s\u00a0on\u2026",
        ["\u201c", "\u201d", "\u2014", "\u2019", "\u00a0", "\u2026"],
        '"Hello" - it\'s on...',
    ),
    ("plain text", [], "plain text"),
    ("emoji " + SMILE + " stay", [SMILE], "emoji " + SMILE + " stay"),
    ("ça\ttab\u200b", ["ç", "\t", "\u200b"], "Ça tab"),
]

URL_TABLE = [
    "See https://example.com/a?b=1&c=2. And (http://x.io/y) too!",
    "https://a.b/c, https://a.b/c; https://",
    "no link http:/nope, http://x and 'https://q.io/\u2019' end",
    "mixed\u00a0https://ex.am/ple\u3000x\u0085y https://z.io/\U0001f600.",
]


class TestSmsEncoding(BaseCase):
    def test_segment_table(self):
        for label, text, encoding, units, segments, per_segment in SEGMENT_TABLE:
            with self.subTest(label):
                info = count_segments(text)
                self.assertEqual(
                    (info.encoding, info.units, info.segments, info.per_segment),
                    (encoding, units, segments, per_segment),
                )

    def test_units_match_utf16_for_ucs2(self):
        for label, text, encoding, units, _segments, _per_segment in SEGMENT_TABLE:
            if encoding == "UCS-2":
                with self.subTest(label):
                    self.assertEqual(units, len(text.encode("utf-16-le")) // 2)

    def test_lookalikes(self):
        for text, forcing, replaced in LOOKALIKE_TABLE:
            with self.subTest(text):
                self.assertEqual(non_gsm_characters(text), forcing)
                self.assertEqual(replace_lookalikes(text), replaced)
        # after replacement, only the emoji still forces Unicode
        for text, _forcing, _replaced in LOOKALIKE_TABLE:
            self.assertTrue(set(non_gsm_characters(replace_lookalikes(text))) <= {SMILE})


def js_expectations():
    """The Python answers, for the browser to compare with."""
    return {
        "segments": [[label, text, list(count_segments(text))] for label, text, *_rest in SEGMENT_TABLE],
        "lookalikes": [[text, non_gsm_characters(text), replace_lookalikes(text)] for text, *_rest in LOOKALIKE_TABLE],
        "urls": [[text, [[start, end, url] for start, end, url in find_urls(text)]] for text in URL_TABLE],
    }


JS_CHECK = """
const enc = odoo.loader.modules.get("@sms_marketing_custom/js/sms_encoding");
const cases = %s;
const failures = [];
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
// Python indexes code points, JavaScript UTF-16 units: compare spans in code points
const cp = (text, index) => Array.from(text.slice(0, index)).length;
for (const [label, text, expected] of cases.segments) {
    const info = enc.countSegments(text);
    const got = [info.encoding, info.units, info.segments, info.per_segment];
    if (!same(got, expected)) {
        failures.push(`${label}: JS ${JSON.stringify(got)} != Python ${JSON.stringify(expected)}`);
    }
}
for (const [text, forcing, replaced] of cases.lookalikes) {
    if (!same(enc.nonGsmCharacters(text), forcing) || enc.replaceLookalikes(text) !== replaced) {
        failures.push(`look-alikes differ on ${JSON.stringify(text)}`);
    }
}
for (const [text, spans] of cases.urls) {
    const got = enc.findUrls(text).map(([s, e, url]) => [cp(text, s), cp(text, e), url]);
    if (!same(got, spans)) {
        failures.push(`URLs differ on ${JSON.stringify(text)}: ${JSON.stringify(got)} != ${JSON.stringify(spans)}`);
    }
}
if (failures.length) {
    console.error("JS counter differs from Python:\\n" + failures.join("\\n"));
} else {
    console.log("test successful");
}
"""


@tagged("post_install", "-at_install")
class TestSmsEncodingBrowser(HttpCase):
    def test_js_counter_gives_python_answers(self):
        expectations = js_expectations()
        self.assertEqual(len(expectations["segments"]), len(SEGMENT_TABLE))
        self.browser_js(
            "/web",
            JS_CHECK % json.dumps(expectations),
            ready="odoo.isReady",
            login="admin",
            timeout=180,  # the first request may build the asset bundles
        )
