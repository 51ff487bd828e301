"""An SMS about to leave Odoo, as every sender builds it: the engine's batch, reconciliation's look-up,
the test SMS and the keyword answers (models/sms_marketing_engine_send.py ``_deliver`` sends them)."""

from . import pricing
from .sms_encoding import segment_count


def new_message(uuid, number, content, sender, country_code, prices, segments=None, **kept):
    """The message dict a provider receives (``providers/base.py``: uuid, number, content, sender,
    country_code, segments) and its ``cost`` in credits by ``prices`` (``gateway._get_prices()``).

    ``kept`` is what the sender keeps beside it (a trace's ``trace_id`` and ``tries``, a look-up's
    ``provider_id`` and ``since``). ``segments`` is counted from the text when not given.
    """
    if segments is None:
        segments = segment_count(content)
    return {
        "uuid": uuid,
        "number": number,
        "content": content,
        "sender": sender or "",
        "country_code": country_code,
        "segments": segments,
        "cost": pricing.message_cost(segments, pricing.price_for(prices, country_code)),
        **kept,
    }
