"""Finding and replacing URLs in SMS text, tracking tokens, keywords (pure Python).

URLs
    A URL starts with http:// or https:// and runs until white space or a quote;
    trailing punctuation that ends a sentence ("see https://x.io/a." or "(https://x.io)")
    is not part of it. The JavaScript counter uses the same pattern: keep both equal.

Tracked links
    ``compile_text`` cuts a text around its URLs once; every recipient's body is then
    ``token.join(parts)``: the only per-recipient work is string joining (see
    ``sms.marketing.mailing._apply_tracking``).

Tokens
    A trace token is ``base62(trace id)`` on ``ID_LENGTH`` characters followed by a
    truncated HMAC of the id. One HMAC digest per trace gives two independent MACs:
    a short one for clicks (forging it only misattributes a click) and a longer one
    for the opt-out page (so a forwarded tracked link does not let anyone opt the
    recipient out). Tokens have a fixed length, so the SMS length shown in the form
    is exactly the length sent.

Bots
    Link-preview fetchers and crawlers are recognised by their user agent
    (``is_bot``); their requests are redirected but not counted.

Keywords
    ``classify_keyword`` turns an inbound SMS into "optout", "optin" or None. The whole
    message must be the keyword (case, accents, spaces and final punctuation ignored),
    as carriers and gateways do, so "don't stop" is not an opt-out.
"""

import hashlib
import hmac
import re
import secrets
import unicodedata

URL_PATTERN = r"https?://[^\s<>\"']+"
TRAILING_PUNCTUATION = ".,;:!?)]}"
URL_RE = re.compile(URL_PATTERN)

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BASE62_INDEX = {char: index for index, char in enumerate(BASE62)}
BASE62_PAIRS = [first + second for first in BASE62 for second in BASE62]  # fast fixed-width encoding
MAC_TABLE = bytes(ord(BASE62[byte % 62]) for byte in range(256))  # one byte -> one char (~5.95 bits)
CODE_LENGTH = 6  # 62**6 = 5.7e10 random codes per tracker
ID_LENGTH = 6  # trace ids up to 5.7e10 keep a fixed-length token
CLICK_MAC_LENGTH = 6  # ~35.7 bits: forging only attributes a click to someone
OPTOUT_MAC_LENGTH = 10  # ~59.5 bits: forging would opt someone out
CLICK_TOKEN_LENGTH = ID_LENGTH + CLICK_MAC_LENGTH
OPTOUT_TOKEN_LENGTH = ID_LENGTH + OPTOUT_MAC_LENGTH
TOKEN_RE = re.compile(r"[0-9A-Za-z]+")

TOKEN_SCOPE = b"sms_marketing_custom.trace:%d"  # HMAC message: one key (database secret), many uses
# The opt-out link of a test SMS: a mailing's id in another HMAC scope (no trace token can pass for it)
TEST_OPTOUT_SCOPE = b"sms_marketing_custom.test_optout:%d"
# Short paths: every character costs SMS length. No route of an Odoo 17.0 addon starts with
# /l/ or /o/ (tests/test_route_coexistence.py checks every route of the Odoo tree).
CLICK_PATH = "/l/"
OPTOUT_PATH = "/o/"
# Every tracked link sent before CLICK_PATH changed reads /s/<code>/<token>. Surveys' live
# sessions own the one-segment /s/<session_code>; only the two-segment form stays ours.
LEGACY_CLICK_PATH = "/s/"

# Lower-case fragments of user agents that fetch links without a human behind them:
# messaging apps building previews (iMessage sends "facebookexternalhit ... Twitterbot"),
# social networks, search engines, and command-line/HTTP libraries.
BOT_USER_AGENTS = (
    "bot",  # googlebot, bingbot, twitterbot, slackbot, telegrambot, discordbot, applebot...
    "crawl",
    "spider",
    "slurp",
    "preview",  # "Slack-LinkExpanding"-likes, SkypeUriPreview, Google Messages previews
    "facebookexternalhit",
    "facebot",
    "whatsapp",
    "slack",
    "skype",
    "telegram",
    "pinterest",
    "embedly",
    "quora link",
    "outbrain",
    "vkshare",
    "w3c_validator",
    "google-pagerenderer",
    "google-inspectiontool",
    "googleother",
    "curl",
    "wget",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "httpx",
    "go-http-client",
    "java/",
    "libwww",
    "headlesschrome",
)

OPTOUT_KEYWORDS = frozenset(
    {
        # carriers' standard set (CTIA, most gateways)
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "END",
        "QUIT",
        "CANCEL",
        "OPTOUT",
        "REVOKE",
        # localised
        "ARRET",  # fr (ARRÊT)
        "ARRETER",  # fr
        "DESABONNER",  # fr
        "DESINSCRIRE",  # fr
        "STOPP",  # de, sv, no, da
        "ABMELDEN",  # de
        "PARAR",  # es, pt
        "BAJA",  # es
        "CANCELAR",  # es, pt
        "SAIR",  # pt
        "AFMELDEN",  # nl
        "STOPPEN",  # nl
        "DISISCRIVITI",  # it
    }
)
OPTIN_KEYWORDS = frozenset({"START", "UNSTOP"})
HELP_KEYWORDS = frozenset(
    {
        "HELP",
        "INFO",
        "AIDE",  # fr
        "HILFE",  # de
        "AYUDA",  # es
        "AJUDA",  # pt
        "HULP",  # nl
        "AIUTO",  # it
        "HJALP",  # sv (HJÄLP)
    }
)
# "JOIN <list keyword>" subscribes to that list, once confirmed with a YES.
JOIN_KEYWORDS = frozenset({"JOIN", "SUBSCRIBE", "INSCRIRE", "ABONNIEREN", "ALTA", "ENTRAR", "AANMELDEN", "ISCRIVITI"})
YES_KEYWORDS = frozenset({"YES", "Y", "OUI", "JA", "SI", "SIM", "YA"})
# The confirmation an answer in each language asks for, when it is one of the company's YES keywords
# (else YES, else the first of them).
YES_WORD_BY_LANG = {"fr": "OUI", "de": "JA", "es": "SI", "it": "SI", "pt": "SIM", "nl": "JA"}
# The language of each localised keyword: the reply is written in it when the database has it.
KEYWORD_LANGS = {
    "ARRET": "fr",
    "ARRETER": "fr",
    "DESABONNER": "fr",
    "DESINSCRIRE": "fr",
    "AIDE": "fr",
    "INSCRIRE": "fr",
    "OUI": "fr",
    "ABMELDEN": "de",
    "HILFE": "de",
    "ABONNIEREN": "de",
    "PARAR": "es",
    "BAJA": "es",
    "AYUDA": "es",
    "ALTA": "es",
    "SAIR": "pt",
    "AJUDA": "pt",
    "ENTRAR": "pt",
    "SIM": "pt",
    "AFMELDEN": "nl",
    "STOPPEN": "nl",
    "HULP": "nl",
    "AANMELDEN": "nl",
    "DISISCRIVITI": "it",
    "AIUTO": "it",
    "ISCRIVITI": "it",
    "HJALP": "sv",
}


# ----------------------------------------------------------------------- URLs
def find_urls(text):
    """Return the (start, end, url) spans of the URLs in ``text``, in order."""
    spans = []
    for match in URL_RE.finditer(text or ""):
        url = match.group(0).rstrip(TRAILING_PUNCTUATION)
        if len(url) > len("https://"):
            spans.append((match.start(), match.start() + len(url), url))
    return spans


def trackable_urls(text, skip_prefixes=()):
    """Distinct URLs of ``text`` to track, in order of appearance.

    URLs that contain a placeholder (``{{``) are skipped: they are only known once
    rendered. URLs starting with one of ``skip_prefixes`` (our own short links) are
    left as they are.
    """
    urls = []
    for _start, _end, url in find_urls(text):
        if "{{" in url or url.startswith(tuple(skip_prefixes)) or url in urls:
            continue
        urls.append(url)
    return urls


def compile_text(text, code_by_url, link_prefix):
    """Cut ``text`` around its tracked URLs.

    Returns the list of parts such that ``token.join(parts)`` is the text where each
    URL found in ``code_by_url`` became ``{link_prefix}{code}/{token}``. URLs without
    a code are kept as they are.
    """
    parts = []
    position = 0
    for start, end, url in find_urls(text):
        code = code_by_url.get(url)
        if not code:
            continue
        parts.append(f"{text[position:start]}{link_prefix}{code}/")
        position = end
    parts.append(text[position:])
    return parts


def tracked_link_length(base_url):
    """Length of one tracked link as sent, token included."""
    return len(base_url.rstrip("/")) + len(CLICK_PATH) + CODE_LENGTH + 1 + CLICK_TOKEN_LENGTH


# ----------------------------------------------------------------------- codes and tokens
def random_code(length=CODE_LENGTH):
    """A random, unguessable short code."""
    return "".join(secrets.choice(BASE62) for _index in range(length))


def encode_base62(number, width):
    """``number`` in base 62, left-padded with "0" to at least ``width`` characters."""
    chars = []
    while number:
        number, rest = divmod(number, 62)
        chars.append(BASE62[rest])
    return "".join(reversed(chars)).rjust(width, "0")


def decode_base62(text):
    """Inverse of ``encode_base62``; None when ``text`` is not base 62."""
    number = 0
    for char in text:
        index = BASE62_INDEX.get(char)
        if index is None:
            return None
        number = number * 62 + index
    return number


def encode_id(record_id):
    """``record_id`` in base 62 on ``ID_LENGTH`` characters (more for ids beyond 62**6)."""
    if record_id >= 62**6:
        return encode_base62(record_id, ID_LENGTH)
    high, rest = divmod(record_id, 3844 * 3844)
    middle, low = divmod(rest, 3844)
    return BASE62_PAIRS[high] + BASE62_PAIRS[middle] + BASE62_PAIRS[low]


def tokens_from_digest(record_id, digest):
    """(click token, opt-out token) of ``record_id`` from its HMAC ``digest`` (>= 16 bytes).

    The two MACs use distinct bytes of the digest, so one does not reveal the other.
    """
    encoded_id = encode_id(record_id)
    macs = digest[: CLICK_MAC_LENGTH + OPTOUT_MAC_LENGTH].translate(MAC_TABLE).decode()
    return encoded_id + macs[:CLICK_MAC_LENGTH], encoded_id + macs[CLICK_MAC_LENGTH:]


def trace_tokens(key, trace_id):
    """(click token, opt-out token) of trace ``trace_id``: its one HMAC (``key``: the database secret).

    The only place a trace's tokens are computed: the SMS bodies and the check of a token both call it.
    """
    return tokens_from_digest(trace_id, hmac.digest(key, TOKEN_SCOPE % trace_id, hashlib.sha256))


def test_optout_token(key, mailing_id):
    """The opt-out token of mailing ``mailing_id``'s test SMS: its own HMAC scope, so that no trace's
    token passes for it, nor the reverse; the length of a trace's."""
    return tokens_from_digest(mailing_id, hmac.digest(key, TEST_OPTOUT_SCOPE % mailing_id, hashlib.sha256))[1]


def split_token(token, mac_length):
    """(record id, mac) of a token, or (None, None) when it is malformed."""
    if not token or len(token) <= mac_length or len(token) > 32 or not TOKEN_RE.fullmatch(token):
        return None, None
    record_id = decode_base62(token[:-mac_length])
    if not record_id:
        return None, None
    return record_id, token[-mac_length:]


def leading_code(text):
    """The alphanumeric start of a path segment ("abc123." -> "abc123"), or ""."""
    match = TOKEN_RE.match(text or "")
    return match.group(0) if match else ""


# ----------------------------------------------------------------------- visitors
def is_bot(user_agent):
    """True for crawlers, link-preview fetchers and HTTP libraries (and no user agent)."""
    user_agent = (user_agent or "").lower()
    return not user_agent or any(fragment in user_agent for fragment in BOT_USER_AGENTS)


def mask_number(number):
    """Hide a phone number but its last two digits: "+33612345678" -> "+•••••••••78"."""
    if not number:
        return ""
    digits = number.lstrip("+")
    return ("+" if number.startswith("+") else "") + "•" * max(len(digits) - 2, 0) + digits[-2:]


# ----------------------------------------------------------------------- keywords
def normalize_keyword(content):
    """Upper-case ASCII of an inbound message without spaces, hyphens or final punctuation."""
    text = unicodedata.normalize("NFKD", content or "")
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = text.strip().rstrip(".!?;,").strip().upper()
    return re.sub(r"[\s\-_]+", "", text)


def classify_keyword(content):
    """ "optout", "optin" or None for the text of an inbound SMS."""
    keyword = normalize_keyword(content)
    if keyword in OPTOUT_KEYWORDS:
        return "optout"
    if keyword in OPTIN_KEYWORDS:
        return "optin"
    return None


def parse_keywords(text):
    """A set of keywords typed by a person ("Stop, Arrêt; QUIT") in normalised form."""
    return frozenset(filter(None, (normalize_keyword(part) for part in re.split(r"[,;\n]+", text or ""))))


def parse_inbound(content, keywords=None):
    """(action, argument, keyword) of an inbound SMS; action None when it is no keyword.

    Actions: "optout", "optin", "help", "yes" (the whole message is the
    keyword) and "join" (``JOIN <list keyword>``: argument is the normalised
    list keyword). ``keywords`` maps each action to its keyword set (a
    company's settings); the built-in sets otherwise.
    """
    keywords = keywords or DEFAULT_KEYWORDS
    word = normalize_keyword(content)
    for action in ("optout", "optin", "help", "yes"):
        if word in keywords[action]:
            return action, None, word
    head, _sep, rest = (content or "").strip().partition(" ")
    head, rest = normalize_keyword(head), normalize_keyword(rest)
    if head in keywords["join"] and rest:
        return "join", rest, head
    return None, None, word


DEFAULT_KEYWORDS = {
    "optout": OPTOUT_KEYWORDS,
    "optin": OPTIN_KEYWORDS,
    "help": HELP_KEYWORDS,
    "yes": YES_KEYWORDS,
    "join": JOIN_KEYWORDS,
}
