"""SMS providers: how a gateway talks to the outside world (docs/design.md, "Providers").

This package holds what every provider shares: the errors a provider raises
and the result states it answers with (the gateway protocol's). Each provider
is one module of this package behind the interface of ``base.SmsProvider``
(the contract is in its docstring), registered by key in ``base.PROVIDERS``.
"""

# Result states of one message, as the gateway protocol names them.
ACCEPTED = ("sent", "duplicate")  # "duplicate": the uuid was accepted before, count it as sent
FINAL_ERRORS = ("wrong_number_format", "country_not_supported", "rejected")
INSUFFICIENT_CREDIT = "insufficient_credit"
SERVER_ERROR = "server_error"
# The request reached a provider without idempotency key but its answer was lost: the message
# may have left. Never sent again blindly: looked up at the provider, else shown as unknown.
UNKNOWN = "unknown"


class SmsGatewayError(Exception):
    """The gateway refused the request for good (bad key, bad configuration).

    Its text reaches whoever sees the mailing (pause reasons, trace failures,
    the chatter): never the provider's own words, which come from whatever
    server the endpoint URL names. Those go to ``detail``, shown to Settings
    administrators only and logged (``SmsProvider.gateway_error``).
    """

    def __init__(self, message="", detail=None):
        super().__init__(message)
        self.detail = detail


class SmsGatewayTransientError(SmsGatewayError):
    """Time-out, 429 or 5xx: try again later with the same uuids.

    ``not_taken``: the provider surely took none of the messages (the request
    never reached it, or it refused it as a whole: 429, 5xx); otherwise it may
    have taken them (a time-out, a lost or unreadable answer).
    """

    def __init__(self, message="", detail=None, not_taken=False):
        super().__init__(message, detail)
        self.not_taken = not_taken


# The providers register themselves when imported; they need the names above.
from . import base, http_json, sandbox, twilio, vonage  # noqa: E402  isort:skip
from .base import PROVIDERS, SmsProvider, get_provider_class, register_provider  # noqa: E402  isort:skip
