"""Finding URLs in SMS text (pure Python, mirrored by the OWL counter).

A URL starts with http:// or https:// and runs until white space or a quote;
trailing punctuation that ends a sentence ("see https://x.io/a." or "(https://x.io)")
is not part of it. The JavaScript counter uses the same pattern: keep both equal.
"""

import re

URL_PATTERN = r"https?://[^\s<>\"']+"
TRAILING_PUNCTUATION = ".,;:!?)]}"
URL_RE = re.compile(URL_PATTERN)


def find_urls(text):
    """Return the (start, end, url) spans of the URLs in ``text``, in order."""
    spans = []
    for match in URL_RE.finditer(text or ""):
        url = match.group(0).rstrip(TRAILING_PUNCTUATION)
        if len(url) > len("https://"):
            spans.append((match.start(), match.start() + len(url), url))
    return spans
