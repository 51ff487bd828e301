"""SMS encoding and segment counting (pure Python, mirrored by the OWL counter).

What: ``count_segments(text)`` tells how a text travels as SMS: its encoding,
its length in the units of that encoding, and the number of segments (parts)
a phone network bills for it.

How (3GPP TS 23.038 / 23.040):

* GSM-7 when every character is in the default alphabet or its extension
  table. A basic character is one septet; an extension character
  (``^{}\\[~]|€`` and form feed) is an escape plus a septet: two septets, which
  are never split across two segments. One segment holds 160 septets; a
  concatenated message holds 153 per segment (the user data header takes 7).
* Otherwise the whole message is UCS-2 (in practice UTF-16): one unit per
  character of the Basic Multilingual Plane, two units (a surrogate pair) for
  anything above U+FFFF (most emoji); a pair is never split across segments.
  70 units fit one segment, 67 per segment when concatenated.
* Segments are filled greedily in order, exactly as phones and gateways split
  them; a character that does not fit in what is left of a segment starts the
  next one, so the count can exceed ``ceil(units / per_segment)``.
* Empty text: 0 segments (nothing is sent), GSM-7, ``per_segment`` 160.

Caveat: flags and emoji joined with ZERO WIDTH JOINER are several code points;
each counts on its own (a ZWJ is one UCS-2 unit), and a segment border may fall
between them, as it does on real networks (the phone reassembles them).

``static/src/js/sms_encoding.js`` implements the same rules; the test suite
runs one table through both and requires identical answers.
"""

import re
from collections import namedtuple

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "\f^{}\\[~]|€"

GSM7_BASIC_SET = frozenset(GSM7_BASIC)
GSM7_EXTENSION_SET = frozenset(GSM7_EXTENSION)

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67

# Look-alikes that word processors and phones type, and their GSM-7 twins.
GSM7_LOOKALIKES = {
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark / apostrophe
    "\u201a": "'",  # single low-9 quotation mark
    "\u201b": "'",  # single high-reversed-9 quotation mark
    "\u2032": "'",  # prime
    "\u00b4": "'",  # acute accent
    "\u0060": "'",  # grave accent (backtick)
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',  # right double quotation mark
    "\u201e": '"',  # double low-9 quotation mark
    "\u201f": '"',  # double high-reversed-9 quotation mark
    "\u2033": '"',  # double prime
    "\u00ab": '"',  # left-pointing double angle quotation mark
    "\u00bb": '"',  # right-pointing double angle quotation mark
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",  # horizontal bar
    "\u2212": "-",  # minus sign
    "\u2026": "...",  # horizontal ellipsis
    "\u00a0": " ",  # no-break space
    "\u2002": " ",  # en space
    "\u2003": " ",  # em space
    "\u2007": " ",  # figure space
    "\u2008": " ",  # punctuation space
    "\u2009": " ",  # thin space
    "\u200a": " ",  # hair space
    "\u202f": " ",  # narrow no-break space
    "\u205f": " ",  # medium mathematical space
    "\u3000": " ",  # ideographic space
    "\u200b": "",  # zero width space
    "\ufeff": "",  # zero width no-break space (BOM)
    "\u2022": "-",  # bullet
    "\u00b7": ".",  # middle dot
    "\u02c6": "^",  # modifier letter circumflex
    "\u02dc": "~",  # small tilde
    "\u2039": "<",  # single left-pointing angle quotation mark
    "\u203a": ">",  # single right-pointing angle quotation mark
    "\t": " ",  # tabulation
    "\u00e7": "Ç",  # c cedilla: GSM-7 only has the capital one
}

SegmentInfo = namedtuple("SegmentInfo", ["encoding", "units", "segments", "per_segment"])


def _gsm7_units(text):
    """Septets per character, or None when ``text`` needs UCS-2."""
    units = []
    for char in text:
        if char in GSM7_BASIC_SET:
            units.append(1)
        elif char in GSM7_EXTENSION_SET:
            units.append(2)
        else:
            return None
    return units


def _ucs2_units(text):
    """UTF-16 code units per character: 2 for a surrogate pair."""
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def _pack(units, per_segment):
    """Fill segments greedily; a character never straddles two segments."""
    segments, used = 1, 0
    for size in units:
        if used + size > per_segment:
            segments += 1
            used = 0
        used += size
    return segments


def count_segments(text):
    """Return the ``SegmentInfo(encoding, units, segments, per_segment)`` of ``text``."""
    text = text or ""
    if GSM7_BASIC_SET.issuperset(text):
        # Fast path (most marketing texts): one septet per character, so greedy
        # packing is a division. Same answer as below, without a Python loop.
        total = len(text)
        if total <= GSM7_SINGLE:
            return SegmentInfo("GSM-7", total, 1 if total else 0, GSM7_SINGLE)
        return SegmentInfo("GSM-7", total, -(-total // GSM7_MULTI), GSM7_MULTI)
    units = _gsm7_units(text)
    if units is not None:
        encoding, single, multi = "GSM-7", GSM7_SINGLE, GSM7_MULTI
    else:
        units = _ucs2_units(text)
        encoding, single, multi = "UCS-2", UCS2_SINGLE, UCS2_MULTI
    total = sum(units)
    if not total:
        return SegmentInfo(encoding, 0, 0, single)
    if total <= single:
        return SegmentInfo(encoding, total, 1, single)
    return SegmentInfo(encoding, total, _pack(units, multi), multi)


def non_gsm_characters(text):
    """The distinct characters of ``text`` that force UCS-2, in order of appearance."""
    seen = []
    for char in text or "":
        if char not in GSM7_BASIC_SET and char not in GSM7_EXTENSION_SET and char not in seen:
            seen.append(char)
    return seen


def replace_lookalikes(text):
    """Replace look-alike characters (curly quotes, long dashes, ...) by their GSM-7 twins."""
    return "".join(GSM7_LOOKALIKES.get(char, char) for char in text or "")


# ASCII characters that are not plain one-septet GSM-7: the extension table
# (two septets) and what is outside GSM-7 (backtick, control characters but LF/CR).
_ASCII_NOT_PLAIN_GSM7 = re.compile(r"[\^{}\\\[\]~|`\x00-\x09\x0b-\x0c\x0e-\x1f\x7f]")


def segment_count(text):
    """``count_segments(text).segments``, with a fast path for plain ASCII text
    (the common case: the engine counts every message it sends)."""
    text = text or ""
    if text.isascii() and not _ASCII_NOT_PLAIN_GSM7.search(text):
        units = len(text)
        return (1 if units else 0) if units <= 160 else -(-units // 153)
    return count_segments(text).segments
