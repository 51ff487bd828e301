"""Phone numbers for SMS marketing (pure Python, wraps ``phonenumbers``).

``normalize(raw, region)`` turns a number as typed or imported into its E.164
form (``+12025550143``), or says why it cannot: the result always carries an
error *code* (never a sentence) so that the Odoo layer can turn it into a
translated, human reason. Nothing here imports ``odoo``.

Rules
- ``region`` is the ISO 3166 alpha-2 code of the country used to read a
  national number ("06 12 34 56 78" with ``FR``). Without it, only numbers in
  international form ("+33 6 12...", "0033 6 12..." needs a region for "00")
  are understood; a national number gets ``no_country``.
- A number must be *valid* (assigned range for its country, per libphonenumber
  metadata), not just possible: "+1 999 555 0143" (unassigned area code) is
  ``invalid_for_region``.
- Letters of vanity numbers ("1-800-FLOWERS") are read as their keypad digits,
  as phones do; text that is not a number is ``not_a_number``.
- An extension ("... ext. 12") cannot receive an SMS: it is dropped from the
  E.164 form and reported in ``extension``.

Results are cached (same raw text and region give the same result), so that
normalising a large import with many repeated values stays cheap.
"""

from collections import namedtuple
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException
from phonenumbers import timezone as phonenumbers_timezone

# Error codes (the model layer maps them to translated reasons).
MISSING = "missing"
NOT_A_NUMBER = "not_a_number"
NO_COUNTRY = "no_country"
INVALID_COUNTRY_CODE = "invalid_country_code"
TOO_SHORT = "too_short"
TOO_LONG = "too_long"
INVALID_FOR_REGION = "invalid_for_region"

ERROR_CODES = (MISSING, NOT_A_NUMBER, NO_COUNTRY, INVALID_COUNTRY_CODE, TOO_SHORT, TOO_LONG, INVALID_FOR_REGION)

PhoneResult = namedtuple("PhoneResult", ["e164", "error", "region", "extension"])
PhoneResult.__doc__ = """Outcome of :func:`normalize`.

e164: "+<digits>" when valid, else None. error: None or one of ERROR_CODES.
region: ISO alpha-2 country of the number (valid numbers), else the country it
was checked against (may be None). extension: the dropped extension or None.
"""

_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: INVALID_COUNTRY_CODE,
    NumberParseException.NOT_A_NUMBER: NOT_A_NUMBER,
    NumberParseException.TOO_SHORT_AFTER_IDD: TOO_SHORT,
    NumberParseException.TOO_SHORT_NSN: TOO_SHORT,
    NumberParseException.TOO_LONG: TOO_LONG,
}

_POSSIBILITY_ERRORS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: INVALID_COUNTRY_CODE,
    phonenumbers.ValidationResult.TOO_SHORT: TOO_SHORT,
    phonenumbers.ValidationResult.INVALID_LENGTH: INVALID_FOR_REGION,
    phonenumbers.ValidationResult.TOO_LONG: TOO_LONG,
}


def _clean_region(region):
    region = (region or "").strip().upper()
    return region if len(region) == 2 and region in phonenumbers.SUPPORTED_REGIONS else None


def normalize(raw, region=None):
    """Return the :class:`PhoneResult` of ``raw`` read in ``region`` (ISO alpha-2 or None).

    Never raises: anything that is not text (None, False, a list, ...) is a missing number.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    return _normalize(text, region if isinstance(region, str) else None)


@lru_cache(maxsize=200_000)
def _normalize(text, region):
    region = _clean_region(region)
    if not text:
        return PhoneResult(None, MISSING, region, None)
    if not any(char.isdigit() for char in text):
        return PhoneResult(None, NOT_A_NUMBER, region, None)
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as error:
        code = _PARSE_ERRORS.get(error.error_type, NOT_A_NUMBER)
        if code == INVALID_COUNTRY_CODE and not region and not text.startswith("+"):
            # a national number (or "00..." prefix) and no country to read it with
            code = NO_COUNTRY
        return PhoneResult(None, code, region, None)
    extension = number.extension or None
    number_region = phonenumbers.region_code_for_number(number)
    checked_region = number_region or phonenumbers.region_code_for_country_code(number.country_code)
    if checked_region == phonenumbers.UNKNOWN_REGION:
        checked_region = region
    possible = phonenumbers.is_possible_number_with_reason(number)
    if possible not in (
        phonenumbers.ValidationResult.IS_POSSIBLE,
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ):
        return PhoneResult(None, _POSSIBILITY_ERRORS.get(possible, INVALID_FOR_REGION), checked_region, extension)
    if possible == phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY or not phonenumbers.is_valid_number(number):
        return PhoneResult(None, INVALID_FOR_REGION, checked_region, extension)
    number.extension = None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return PhoneResult(e164, None, number_region, extension)


def country_of(e164):
    """ISO alpha-2 country of a valid E.164 number, or None."""
    result = normalize(e164)
    return result.region if result.e164 else None


def time_zones(e164):
    """Time zones (tz database names) where the number may be, [] when unknown."""
    try:
        number = phonenumbers.parse(e164 or "", None)
    except NumberParseException:
        return []
    zones = phonenumbers_timezone.time_zones_for_number(number)
    return [zone for zone in zones if zone != phonenumbers_timezone.UNKNOWN_TIMEZONE]
