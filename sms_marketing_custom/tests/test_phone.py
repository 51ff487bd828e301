from odoo.tests import BaseCase, tagged

from ..tools import phone


@tagged("post_install", "-at_install")
class TestPhoneNormalisation(BaseCase):
    # (raw, country the number is read with, expected E.164 or None, expected error code or None)
    TABLE = [
        # national forms, read with the country
        ("(202) 555-0143", "US", "+12025550143", None),
        ("202.555.0143", "US", "+12025550143", None),
        ("06 12 34 56 78", "FR", "+33612345678", None),
        ("0470 12 34 56", "BE", "+32470123456", None),
        # international forms, with or without a country
        ("+1 202 555 0143", None, "+12025550143", None),
        ("+33 6.12.34.56.78", None, "+33612345678", None),
        ("+32 (0)470 12 34 56", None, "+32470123456", None),
        ("0044 20 7946 0958", "FR", "+442079460958", None),
        ("  +33612345678  ", "US", "+33612345678", None),
        # letters: vanity numbers are keypad digits, words are not numbers
        ("1-800-FLOWERS", "US", "+18003569377", None),
        ("call me", "US", None, phone.NOT_A_NUMBER),
        ("n/a", None, None, phone.NOT_A_NUMBER),
        # extensions are dropped (an extension cannot receive an SMS)
        ("+1 202 555 0143 ext. 12", None, "+12025550143", None),
        # a national number with no country to read it
        ("(202) 555-0143", None, None, phone.NO_COUNTRY),
        ("06 12 34 56 78", None, None, phone.NO_COUNTRY),
        # wrong country: a French mobile read as a US or UK number
        ("06 12 34 56 78", "US", None, phone.INVALID_FOR_REGION),
        ("06 12 34 56 78", "GB", None, phone.INVALID_FOR_REGION),
        # too short / too long
        ("0612", "FR", None, phone.TOO_SHORT),
        ("+33 6", None, None, phone.TOO_SHORT),
        ("+33 6 12 34 56 78 99 99 99", None, None, phone.TOO_LONG),
        # unassigned ranges and country codes
        ("+1 999 555 0143", None, None, phone.INVALID_FOR_REGION),
        ("+1 555 555 5556", None, None, phone.INVALID_FOR_REGION),
        ("+99 123 456 789", None, None, phone.INVALID_COUNTRY_CODE),
        # nothing typed
        ("", "FR", None, phone.MISSING),
        (None, None, None, phone.MISSING),
        ("   ", "US", None, phone.MISSING),
    ]

    def test_normalisation_table(self):
        for raw, region, e164, error in self.TABLE:
            with self.subTest(raw=raw, region=region):
                result = phone.normalize(raw, region)
                self.assertEqual(result.e164, e164)
                self.assertEqual(result.error, error)
                self.assertTrue(bool(result.e164) != bool(result.error), "either a number or a reason")

    def test_result_details(self):
        result = phone.normalize("+1 202 555 0143 ext. 12")
        self.assertEqual((result.region, result.extension), ("US", "12"))
        self.assertEqual(phone.normalize("06 12 34 56 78", "fr").region, "FR", "country codes are case-insensitive")
        self.assertEqual(phone.normalize("06 12 34 56 78", "XX").error, phone.NO_COUNTRY, "unknown country ignored")
        self.assertEqual(phone.country_of("+32470123456"), "BE")
        self.assertIsNone(phone.country_of("+1 999 555 0143"))
        self.assertEqual(phone.time_zones("+33612345678"), ["Europe/Paris"])
        self.assertEqual(phone.time_zones("garbage"), [])
