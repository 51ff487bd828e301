"""The benchmark audience: N contacts with realistic phone numbers, built once
in Python (deterministic) and loaded by COPY into either database.

Mix: six countries, ~2% invalid or missing numbers, ~1% duplicates (the same
number as an earlier contact), ~1% of the valid numbers blacklisted. Numbers
are typed the way people type them: E.164, spaced international, or national
with the country set on the contact. Every generated valid number passes
`phonenumbers.is_valid_number` (checked on a sample by `check_sample`).
"""

import io
import random
from dataclasses import dataclass, field

# country -> (share, E.164 pattern of a mobile number, subscriber block size, national trunk prefix)
COUNTRIES = {
    "FR": (0.30, "+336{:08d}", 10**8, "0"),
    "BE": (0.20, "+3247{:07d}", 10**7, "0"),
    "US": (0.20, "+1212{:07d}", 6 * 10**6, ""),
    "DE": (0.15, "+49151{:08d}", 10**8, "0"),
    "GB": (0.10, "+447911{:06d}", 10**6, "0"),
    "IN": (0.05, "+9198{:08d}", 10**8, None),
}
CALLING_CODES = {"FR": "33", "BE": "32", "US": "1", "DE": "49", "GB": "44", "IN": "91"}
INVALID_RAW = ["12345", "+33 12", "0000", "n/a", "+1 555", "99999999999999999", ""]
INVALID_SHARE = 0.02
DUPLICATE_SHARE = 0.01
BLACKLIST_SHARE = 0.01


@dataclass
class Audience:
    n: int
    rows: list = field(default_factory=list)  # (name, raw phone, country code, e164 or None)
    blacklist: list = field(default_factory=list)  # E.164 numbers

    @property
    def stats(self):
        valid = sum(1 for r in self.rows if r[3])
        unique = len({r[3] for r in self.rows if r[3]})
        return {
            "contacts": len(self.rows),
            "invalid": len(self.rows) - valid,
            "duplicates": valid - unique,
            "blacklisted_numbers": len(self.blacklist),
        }

    def expected_sendable(self):
        """Unique valid numbers that are not blacklisted: what both apps should send."""
        black = set(self.blacklist)
        return len({r[3] for r in self.rows if r[3] and r[3] not in black})


def _e164(country, k):
    _share, pattern, block, _trunk = COUNTRIES[country]
    if country == "US":
        return pattern.format(2_000_000 + k % block)  # exchange 2xx-7xx: valid NANP numbers
    return pattern.format(k % block)


def _typed(rng, country, e164):
    """How a person would have typed this number."""
    cc = CALLING_CODES[country]
    nsn = e164[1 + len(cc) :]
    style = rng.random()
    if style < 0.5:
        return e164
    if style < 0.75 or COUNTRIES[country][3] is None:
        groups = [nsn[i : i + 3] for i in range(0, len(nsn), 3)]
        return "+{} {}".format(cc, " ".join(groups))
    if country == "US":
        return f"({nsn[:3]}) {nsn[3:6]}-{nsn[6:]}"
    national = COUNTRIES[country][3] + nsn
    return " ".join(national[i : i + 2] for i in range(0, len(national), 2))


def build(n, seed=20260101):
    rng = random.Random(seed)
    codes = list(COUNTRIES)
    weights = [COUNTRIES[c][0] for c in codes]
    counters = dict.fromkeys(codes, 0)
    audience = Audience(n)
    rows = audience.rows
    valid_rows = []
    for i in range(n):
        country = rng.choices(codes, weights)[0]
        name = f"Contact {i + 1}"
        roll = rng.random()
        if roll < INVALID_SHARE:
            rows.append((name, rng.choice(INVALID_RAW), country, None))
            continue
        if roll < INVALID_SHARE + DUPLICATE_SHARE and valid_rows:
            _n, raw, country, e164 = valid_rows[rng.randrange(len(valid_rows))]
            rows.append((name, raw, country, e164))
            continue
        e164 = _e164(country, counters[country])
        counters[country] += 1
        row = (name, _typed(rng, country, e164), country, e164)
        rows.append(row)
        valid_rows.append(row)
    picked = rng.sample(range(len(valid_rows)), int(len(valid_rows) * BLACKLIST_SHARE))
    audience.blacklist = sorted({valid_rows[i][3] for i in picked})
    return audience


def check_sample(audience, size=2000):
    """Make sure the generator's 'valid' numbers are valid for phonenumbers."""
    import phonenumbers

    rng = random.Random(1)
    rows = [r for r in audience.rows if r[3]]
    for _name, raw, country, e164 in rng.sample(rows, min(size, len(rows))):
        parsed = phonenumbers.parse(raw, country)
        got = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if not phonenumbers.is_valid_number(parsed) or got != e164:
            raise AssertionError(f"generated number {raw!r} ({country}) is not the valid {e164}")


def copy_rows(cr, table, columns, rows):
    """COPY rows (tuples, None for NULL) into table."""
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join(r"\N" if v is None else _copy_escape(v) for v in row))
        buf.write("\n")
    buf.seek(0)
    cr.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)


def _copy_escape(value):
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
