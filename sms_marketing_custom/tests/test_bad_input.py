"""Bad input, property-based (hypothesis): a clear error or a correct result,
never a crash and never a half-written record.

Bounded for CI: modest ``max_examples``, no deadline, derandomized (the same
examples on every run) and no example database on disk.
"""

import math
import re
from datetime import datetime, timedelta

import phonenumbers
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from ..tools import phone as phone_tools
from ..tools.sms_encoding import count_segments
from .common import SmsMarketingCase

BOUNDED = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
DB_BOUNDED = settings(BOUNDED, max_examples=25)

E164_RE = re.compile(r"^\+[1-9][0-9]{5,14}$")
# what a user must never read in an error message
INTERNALS = ("Traceback", "psycopg2", 'File "', "SELECT ", "object at 0x", "site-packages")

# -- 3GPP TS 23.038, written again here as an independent oracle --------------
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("\f^{}\\[~]|€")


def oracle_segments(text):
    """(encoding, units, segments) by the book: greedy fill, no split character."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        encoding, sizes, single, multi = "GSM-7", [2 if c in GSM7_EXTENSION else 1 for c in text], 160, 153
    else:
        encoding, sizes, single, multi = "UCS-2", [2 if ord(c) > 0xFFFF else 1 for c in text], 70, 67
    units = sum(sizes)
    if units == 0:
        return encoding, 0, 0
    if units <= single:
        return encoding, units, 1
    segments, used = 1, 0
    for size in sizes:
        if used + size > multi:
            segments, used = segments + 1, 0
        used += size
    return encoding, units, segments


gsm_text = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=700)
control_text = st.text(alphabet=st.characters(categories=("Cc", "Cf", "Zl", "Zp", "Zs")), max_size=300)
any_text = st.text(max_size=700)  # any Unicode code point but lone surrogates
emoji_text = st.text(alphabet=st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF), max_size=120)
bodies = st.one_of(
    gsm_text,
    any_text,
    control_text,
    emoji_text,
    st.lists(st.one_of(gsm_text, emoji_text, control_text), max_size=4).map("".join),
)


# ---------------------------------------------------------------------- pure tools
@tagged("post_install", "-at_install", "sms_bad_input")
class TestBadInputTools(TransactionCase):
    # -- phone numbers -----------------------------------------------------
    REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)

    def _check_phone_result(self, raw, region):
        result = phone_tools.normalize(raw, region)
        if result.e164:
            self.assertIsNone(result.error, (raw, region, result))
            self.assertRegex(result.e164, E164_RE, (raw, region))
            # idempotent and self-describing: the E.164 form reads back to itself anywhere
            again = phone_tools.normalize(result.e164)
            self.assertEqual(again.e164, result.e164, (raw, region))
            self.assertEqual(again.region, result.region, (raw, region))
            self.assertTrue(phonenumbers.is_valid_number(phonenumbers.parse(result.e164)))
        else:
            self.assertIn(result.error, phone_tools.ERROR_CODES, (raw, region, result))
        return result

    @BOUNDED
    @given(
        raw=st.one_of(
            st.text(max_size=40),
            st.from_regex(r"[+0(]{0,2}[0-9 ()\-./]{0,24}(ext\.? ?[0-9]{1,5})?", fullmatch=True),
            st.builds(lambda d: "+" + d, st.text(alphabet="0123456789", max_size=20)),
            st.text(alphabet=st.characters(categories=("Nd", "No", "Nl", "Pd", "Zs", "Cf")), max_size=25),
            st.none(),
            st.just(False),
        ),
        region=st.one_of(st.none(), st.sampled_from(REGIONS), st.text(max_size=4)),
    )
    @example(raw="+32 470 12 34 56", region=None)
    @example(raw="0470 12 34 56", region="BE")
    @example(raw="\u0660\u0661\u0662", region="EG")  # Arabic-Indic digits
    @example(raw="+" + "9" * 40, region=None)
    @example(raw="1-800-FLOWERS", region="US")
    @example(raw="+33 6 12 34 56 78 ext. 12", region=None)
    def test_normalize_never_raises(self, raw, region):
        self._check_phone_result(raw, region)

    @BOUNDED
    @given(
        region=st.sampled_from(REGIONS),
        kind=st.sampled_from(["mobile", "fixed"]),
        fmt=st.sampled_from(list(range(4))),
    )
    def test_normalize_known_valid_numbers(self, region, kind, fmt):
        """Example numbers of every country, in every format, read back to the same E.164."""
        number_type = (
            phonenumbers.PhoneNumberType.MOBILE if kind == "mobile" else phonenumbers.PhoneNumberType.FIXED_LINE
        )
        number = phonenumbers.example_number_for_type(region, number_type)
        if number is None or not phonenumbers.is_valid_number(number):
            return  # no example for that country and type in libphonenumber's metadata
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        text = phonenumbers.format_number(number, fmt)
        result = self._check_phone_result(text, region)
        self.assertEqual(result.e164, e164, (text, region))

    def test_normalize_odd_types(self):
        for raw in (None, False, 0, 33612345678, 3.3612345678e10, b"+33612345678", ["+33612345678"], {"a": 1}):
            with self.subTest(raw=raw):
                result = phone_tools.normalize(raw, "FR")
                self.assertIsNone(result.e164)
                self.assertIn(result.error, phone_tools.ERROR_CODES)

    # -- bodies ------------------------------------------------------------
    @BOUNDED
    @given(text=bodies)
    @example(text="")
    @example(text="a" * 160)
    @example(text="a" * 161)
    @example(text="€" * 80)
    @example(text="a" * 152 + "€" + "a" * 10)
    @example(text="é" * 70 + "✓")
    @example(text="a" * 66 + "😀" + "a")
    @example(text="\x00\x1b\x7f\u202e\u2028")
    def test_count_segments_invariants(self, text):
        info = count_segments(text)
        self.assertIn(info.encoding, ("GSM-7", "UCS-2"))
        self.assertEqual((info.encoding, info.units, info.segments), oracle_segments(text), repr(text[:40]))
        single, multi = (160, 153) if info.encoding == "GSM-7" else (70, 67)
        self.assertIn(info.per_segment, (single, multi))
        self.assertLessEqual(info.units, info.segments * info.per_segment)
        self.assertEqual(info.segments == 0, info.units == 0)
        if 0 < info.units <= single:
            self.assertEqual((info.segments, info.per_segment), (1, single))
        elif info.units > single:
            self.assertEqual(info.per_segment, multi)
            # minimal: a segment only loses the one unit of a character that does not fit
            self.assertGreaterEqual(info.segments, math.ceil(info.units / multi))
            self.assertLessEqual(info.segments, math.ceil(info.units / (multi - 1)))
        # a longer text never takes fewer segments
        prefix = count_segments(text[: len(text) // 2])
        self.assertLessEqual(prefix.segments, info.segments)

    def test_count_segments_very_long(self):
        for text in ("a" * 100_000, "😀" * 50_000, "€" * 100_000):
            info = count_segments(text)
            self.assertEqual((info.encoding, info.units, info.segments), oracle_segments(text))
        self.assertEqual(count_segments(None).segments, 0)


# ---------------------------------------------------------------------- records
class BadInputRecordsCase(SmsMarketingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.marketer = cls.user_marketing
        cls.marketer.tz = "Europe/Brussels"
        cls.belgium = cls.env.ref("base.be")
        cls.env.company.country_id = cls.belgium
        cls.list = cls.env["sms.marketing.list"].create({"name": "Bad input list"})
        cls.contacts = cls.env["sms.marketing.contact"].create(
            [{"name": f"Bad input {i}", "phone": f"+32470{i:06d}", "list_ids": [(4, cls.list.id)]} for i in range(1, 6)]
        )
        cls.gateway = cls.env["sms.marketing.gateway"].create({"name": "Bad input gateway", "provider": "sandbox"})
        cls.gateway.sudo().write({"balance": 1000.0})
        cls.partner_model = cls.env["ir.model"]._get("res.partner")

    def _assert_clear_error(self, error):
        message = str(error.args[0] if error.args else error)
        self.assertTrue(message.strip(), "an error without a message")
        for internal in INTERNALS:
            self.assertNotIn(internal, message, f"internal detail shown to the user: {message!r}")

    def _new_mailing(self, **vals):
        return (
            self.env["sms.marketing.mailing"]
            .with_user(self.marketer)
            .create(
                {
                    "subject": "Bad input",
                    "body": "Hello",
                    "list_ids": [(6, 0, self.list.ids)],
                    "gateway_id": self.gateway.id,
                    **vals,
                }
            )
        )


FIELD_NAMES = st.sampled_from(
    [
        "name",
        "id",
        "mobile",
        "phone",
        "email",
        "active",
        "create_date",
        "country_id",
        "country_id.code",
        "category_id.name",
        "parent_id.parent_id.name",
        "user_ids.login",
        "no_such_field",
        "name.nope",
        "",
        " name",
        "__class__",
        "id.id",
    ]
)
OPERATORS = st.sampled_from(
    ["=", "!=", "<", ">=", "in", "not in", "like", "ilike", "=like", "=ilike", "child_of", "any", "<>", "~", "==", ""]
)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=5)), max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just("2024-02-30 25:61:00"),
)
PHONES = st.one_of(
    st.from_regex(r"\+?[0-9 ]{0,16}", fullmatch=True),
    st.sampled_from(["+32 470 12 34 56", "0470 12 34 56", "", "abc", "+1 999 555 0143", "00", "+"]),
    st.text(max_size=20),
)
LEAVES = st.tuples(FIELD_NAMES, OPERATORS, VALUES)
DOMAIN_LISTS = st.lists(st.one_of(LEAVES, st.sampled_from(["&", "|", "!"])), max_size=8)
DOMAINS = st.one_of(
    DOMAIN_LISTS.map(repr),
    st.sampled_from(
        [
            "",
            "[",
            "[(",
            "]",
            "None",
            "42",
            "{}",
            "'[]'",
            "[('name', '=')]",
            "[('name', 'ilike', 'a'), '|']",
            "['|', ('name', '=', 'a')]",
            "[(1, '=', 1)]",
            "[(0, '=', 1)]",
            "__import__('os').system('true')",
            "[('name', '=', __import__('os').getcwd())]",
            "[('id', 'in', [1, 2, " + ", ".join(str(i) for i in range(3000)) + "])]",
            "[" + "('name', 'ilike', 'x'), " * 400 + "]",
            "[" + "'|', " * 300 + "('id', '=', 1), " * 301 + "]",
            "[" * 300 + "]" * 300,
            "[('name', '=', '\x00')]",
            "[('create_date', '>', 'yesterday')]",
            "[('country_id', '=', 'Belgium')]",
            "[('user_ids.password', '=', 'x')]",
        ]
    ),
    st.text(max_size=60),
)


@tagged("post_install", "-at_install", "sms_bad_input")
class TestBadInputMailing(BadInputRecordsCase):
    # -- domains -----------------------------------------------------------
    @DB_BOUNDED
    @given(domain=DOMAINS)
    @example(domain="[('id', '=', 'abc')]")
    @example(domain="[('name', '=', {'a': 1})]")
    @example(domain="[('create_date', '>', 'not a date')]")
    @example(domain="[('id.id', '=', None)]")
    @example(domain="['!']")
    @example(domain="A")
    def test_domain_clear_error_or_correct_result(self, domain):
        mailing = self._new_mailing(recipient_model_id=self.partner_model.id, list_ids=[], domain="[]")
        mailing.flush_recordset()
        with mute_logger("odoo.sql_db", "odoo.osv.expression", "odoo.models"):
            try:
                with self.env.cr.savepoint():
                    mailing.write({"domain": domain})
                    mailing.flush_recordset()
                    saved = True
            except UserError as error:  # ValidationError and AccessError are UserErrors
                saved = False
                self._assert_clear_error(error)
            mailing.invalidate_recordset()
            if not saved:
                self.assertEqual(mailing.domain, "[]", "a refused filter must leave the mailing as it was")
                return
            # saved: the form computes its audience without crashing ...
            error = mailing.audience_error
            if error:
                self._assert_clear_error(UserError(error))
                with self.assertRaises(UserError), self.env.cr.savepoint():
                    mailing.action_send_now()
                self.assertEqual(mailing.state, "draft")
                return
            # ... and the count is right
            parsed = mailing.env["sms.marketing.audience"]._parse_filter(mailing)
            expected = self.env["res.partner"].sudo().with_context(active_test=True).search_count(parsed)
            self.assertEqual(mailing.audience_total, expected, domain)

    # -- bodies in the mailing ------------------------------------------------
    @DB_BOUNDED
    @given(body=bodies)
    @example(body="Hello\x00world")
    @example(body="{{ object.name }}")
    @example(body="{{ object.env['res.users'].sudo().search([]).unlink() }}")
    def test_body_stored_or_refused(self, body):
        mailing = self._new_mailing()
        try:
            with self.env.cr.savepoint(), mute_logger("odoo.sql_db"):
                mailing.write({"body": body})
                mailing.flush_recordset()
        except UserError as error:
            self._assert_clear_error(error)
            mailing.invalidate_recordset()
            self.assertEqual(mailing.body, "Hello")
            return
        mailing.invalidate_recordset()
        self.assertEqual(mailing.body or "", (body or "").replace("\x00", ""), "NUL dropped, nothing else")
        self.assertEqual(mailing.sms_segments, count_segments(mailing._get_sms_text_to_count()).segments)

    # -- schedule dates ------------------------------------------------------
    @DB_BOUNDED
    @given(
        moment=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30)),
        tz=st.sampled_from(["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu", "America/St_Johns"]),
    )
    @example(moment=datetime(2000, 1, 1), tz="UTC")
    @example(moment=datetime(9999, 12, 30), tz="Pacific/Kiritimati")
    def test_schedule_past_future_time_zones(self, moment, tz):
        moment = moment.replace(microsecond=0)
        mailing = self._new_mailing(schedule_type="scheduled").with_context(tz=tz)
        self.marketer.tz = tz
        now = fields.Datetime.now()
        Trigger = self.env["ir.cron.trigger"].sudo()
        cron = self.env.ref("sms_marketing_custom.ir_cron_sms_marketing_process_queue")
        triggers_before = Trigger.search_count([("cron_id", "=", cron.id)])
        try:
            with self.env.cr.savepoint():
                mailing.write({"schedule_date": moment})
                mailing.action_schedule()
                mailing.flush_recordset()
        except UserError as error:
            self._assert_clear_error(error)
            mailing.invalidate_recordset()
            self.assertEqual(mailing.state, "draft")
            self.assertEqual(Trigger.search_count([("cron_id", "=", cron.id)]), triggers_before)
            self.assertLess(moment, now + timedelta(minutes=1), "a future date must be accepted")
            return
        self.assertGreaterEqual(moment, now - timedelta(minutes=2), "a date in the past must be refused")
        self.assertEqual(mailing.state, "scheduled")
        self.assertEqual(mailing.schedule_date, moment, "stored in UTC whatever the user's time zone")
        self.assertTrue(Trigger.search([("cron_id", "=", cron.id), ("call_at", "=", moment)]))


@tagged("post_install", "-at_install", "sms_bad_input")
class TestBadInputImport(BadInputRecordsCase):
    COUNTRIES = st.sampled_from(["", "Belgium", "France", "Narnia", "be", "FR", "Utopia"])
    LISTS = st.sampled_from(["", "Bad input list", "No such list"])

    @DB_BOUNDED
    @given(
        rows=st.lists(
            st.tuples(st.text(max_size=15), PHONES, COUNTRIES, LISTS).map(list),
            min_size=1,
            max_size=6,
        )
    )
    @example(rows=[["ok", "+32 470 12 34 56", "Belgium", "Bad input list"], ["bad", "x", "Narnia", ""]])
    @example(rows=[["nul", "+32\x00470", "", ""]])
    def test_contact_import_all_or_nothing(self, rows):
        Contact = self.env["sms.marketing.contact"].with_user(self.marketer)
        before = Contact.search_count([])
        with mute_logger("odoo.sql_db", "odoo.models", "odoo.addons.base.models.ir_fields"):
            result = Contact.load(["name", "phone", "country_id", "list_ids"], rows)
        errors = [message for message in result["messages"] if message.get("type") == "error"]
        for message in errors:
            self._assert_clear_error(UserError(message["message"]))
        if errors:
            self.assertFalse(result["ids"], "an import with errors must not return records")
            self.assertEqual(Contact.search_count([]), before, "no partial import")
            return
        self.assertEqual(len(result["ids"]), len(rows))
        contacts = Contact.browse(result["ids"])
        for contact, row in zip(contacts, rows, strict=True):
            region = (contact.country_id or self.env.company.country_id).code
            self.assertEqual(contact.phone_sanitized or None, phone_tools.normalize(row[1], region).e164, row)

    @DB_BOUNDED
    @given(numbers=st.lists(PHONES, min_size=1, max_size=5))
    @example(numbers=["+32 470 12 34 56", "not a number"])
    @example(numbers=["+32 470 12 34 56", "+32470123456"])
    def test_blacklist_import_all_or_nothing(self, numbers):
        Blacklist = self.env["sms.marketing.blacklist"].with_user(self.marketer).with_context(active_test=False)
        before = Blacklist.search_count([])
        with mute_logger("odoo.sql_db", "odoo.models", "odoo.addons.base.models.ir_fields"):
            result = Blacklist.load(["number"], [[number] for number in numbers])
        errors = [message for message in result["messages"] if message.get("type") == "error"]
        for message in errors:
            self._assert_clear_error(UserError(message["message"]))
        if errors:
            self.assertFalse(result["ids"])
            self.assertEqual(Blacklist.search_count([]), before)
            return
        for record in Blacklist.browse(result["ids"]):
            self.assertRegex(record.number, E164_RE)
