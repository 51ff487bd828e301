"""What the providers that take one message per request share (Twilio, Vonage).

Their APIs have no idempotency key: a message sent twice is sent twice. So a
batch is sent message by message and the loop stops at the first doubt:

* a message the provider answered for gets its result;
* a request that never reached the provider (connection refused, connect
  time-out) or that it refused as a whole (429, 5xx: nothing was created)
  gets ``server_error``, like every message after it: the engine retries
  them, which is safe since they were never taken;
* a request that reached the provider but whose answer was lost (read
  time-out, connection reset, unreadable 2xx answer) gets ``unknown``: the
  message may have left; the engine never sends it again blindly but asks
  the provider (``lookup``) or shows it as unknown with its reason;
* refused credentials on the first message raise ``SmsGatewayError`` (the
  mailing pauses); after a message was taken, the rest get ``server_error``
  instead, so the results of the taken ones are kept;
* the engine's heartbeat (context ``sms_marketing_heartbeat``, called with the
  count of messages answered) keeps the batch's lease while it is sent; when
  it answers False (the lease was recovered: this sender was presumed dead),
  the rest get ``server_error``: they are sent again later, by whoever claims them.
"""

import logging

import requests

from odoo import _

from ..tools import pricing
from . import SERVER_ERROR, UNKNOWN, SmsGatewayError, SmsGatewayTransientError
from .base import SmsProvider

_logger = logging.getLogger(__name__)


class ProviderAnswer:
    """One HTTP answer: status code and the parsed JSON object (None when unreadable)."""

    def __init__(self, status, payload):
        self.status = status
        self.payload = payload


class RequestNotSent(Exception):
    """The request never reached the provider: safe to send again."""


class AnswerLost(Exception):
    """The request reached the provider but its answer was lost: the outcome is unknown."""


class PerMessageProvider(SmsProvider):
    idempotent = False
    per_message = True

    def _http(self, method, url, **kwargs):
        """The provider's ``ProviderAnswer``; RequestNotSent or AnswerLost when there is none,
        SmsGatewayError when the call is refused (``http_request``)."""
        timeout = self.gateway.timeout or 15.0
        try:
            response = self.http_request(method, url, timeout=(min(timeout, 5.0), timeout), **kwargs)
        except (requests.exceptions.ConnectionError, requests.exceptions.ConnectTimeout) as e:
            if isinstance(e, requests.exceptions.ConnectTimeout) or "Connection refused" in str(e):
                raise RequestNotSent(type(e).__name__) from e
            raise AnswerLost(type(e).__name__) from e  # reset after the request went out
        except requests.exceptions.RequestException as e:  # read time-out and the like
            raise AnswerLost(type(e).__name__) from e
        try:
            payload = response.json()
        except (ValueError, RecursionError):
            payload = None
        return ProviderAnswer(response.status_code, payload if isinstance(payload, dict) else None)

    def _request_or_raise(self, method, url, **kwargs):
        """For calls that send nothing (balance, lookups): the JSON object, or a gateway error."""
        try:
            answer = self._http(method, url, **kwargs)
        except (RequestNotSent, AnswerLost) as e:
            raise SmsGatewayTransientError(_("The gateway did not answer in time (%(error)s).", error=str(e))) from e
        if answer.status in (401, 403):
            raise SmsGatewayError(_("The gateway refused the credentials of %(name)s.", name=self.gateway.name))
        if answer.status == 429 or answer.status >= 500 or answer.payload is None:
            raise SmsGatewayTransientError(_("The gateway is busy or failing (HTTP %(code)s).", code=answer.status))
        if answer.status >= 400:
            raise SmsGatewayError(_("The gateway answered HTTP %(code)s.", code=answer.status))
        return answer.payload

    # ------------------------------------------------------------------ sending
    def send(self, messages):
        results = []
        stop = None
        heartbeat = self.env.context.get("sms_marketing_heartbeat")
        for index, message in enumerate(messages):
            if stop:
                results.append(self.result(message["uuid"], SERVER_ERROR))
                continue
            try:
                result = self._send_one(message)
            except RequestNotSent as e:
                if not index:
                    raise SmsGatewayTransientError(
                        _("The gateway did not answer in time (%(error)s).", error=str(e))
                    ) from e
                stop, result = str(e), self.result(message["uuid"], SERVER_ERROR)
            except AnswerLost as e:
                stop, result = str(e), self.result(message["uuid"], UNKNOWN)
            except SmsGatewayTransientError as e:
                if not index:
                    raise
                stop, result = str(e), self.result(message["uuid"], SERVER_ERROR)
            except SmsGatewayError:
                if not index:
                    raise
                stop, result = "refused", self.result(message["uuid"], SERVER_ERROR)
            results.append(result)
            if not stop and heartbeat and index + 1 < len(messages) and not heartbeat(index + 1):
                stop = "the batch's lease was recovered"
        if stop:
            _logger.info("gateway %s: batch stopped after a failure (%s)", self.gateway.id, stop)
        return results

    def _send_one(self, message):
        """The result of one message; raises RequestNotSent, AnswerLost or a gateway error."""
        raise NotImplementedError

    def _estimate(self, message):
        """Credits of a message the provider prices later: our price list (as the engine reserved)."""
        prices = self.env.context.get("sms_marketing_prices") or self.gateway._get_prices()
        return pricing.message_cost(
            message.get("segments") or 1, pricing.price_for(prices, message.get("country_code"))
        )
