"""What a message costs: the one rule shared by the form's estimate, Send's
check, the test SMS, the engine and the sandbox gateway.

A gateway's prices are ``{ISO country code or False: credits per SMS part}``
(``sms.marketing.gateway._get_prices``), ``False`` being the price for every
other country. A message costs its parts times the price of its country,
rounded to the ledger's four decimals.
"""

# Credits per part when no gateway is known at all (an estimate before any gateway exists).
FALLBACK_PRICE = 1.0
LEDGER_DIGITS = 4


def price_for(prices, country_code):
    """Credits per SMS part for ``country_code`` (ISO code, or False/None when unknown)."""
    return prices.get(country_code or False, prices[False])


def message_cost(segments, price):
    """Credits of one message of ``segments`` parts at ``price`` credits per part."""
    return round(segments * price, LEDGER_DIGITS)


# Decimals shown: two, or up to the ledger's four when a price per message needs them
# (the ``sms_credits`` widget of the forms shows credits the same way).
SHOWN_DIGITS = 2


def format_credits(env, value):
    """Credits as the user's language writes numbers ("1.248,00", "0,0075" in Italian)."""
    from odoo.tools.misc import formatLang  # here: the other tools are importable without Odoo

    value = round(value or 0.0, LEDGER_DIGITS)
    digits = next(
        (digits for digits in range(SHOWN_DIGITS, LEDGER_DIGITS) if round(value, digits) == value), LEDGER_DIGITS
    )
    return formatLang(env, value, digits=digits)
