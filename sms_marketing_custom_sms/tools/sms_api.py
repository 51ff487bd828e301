"""Where Odoo's SMS leave: ``SmsApi._contact_iap``, the one call of ``sms.sms._send`` to Odoo's SMS service.

``sms.sms._send`` (models/sms_sms.py) puts the gateways chosen for a batch
in the context (``GATEWAYS_CONTEXT_KEY``, a recordset: a context a client
sends in a request is JSON, it can hold no recordset, so nobody steers
Odoo's SMS to a gateway by hand); this call then hands the batch to
them (``sms.marketing.gateway._send_odoo_sms``) instead of IAP, and answers
in IAP's words, so that Odoo's own code turns the answer into its SMS states,
failure types, notifications and traces as it does for IAP. Without the key
(the option off, a message routed to the IAP gateway, another database,
every other IAP call) it is Odoo's call, unchanged.

Why here rather than a copy of ``_send``: Odoo keeps one reading of the
answers, and Odoo's own tests (``sms.tests.common.MockSMS``) mock exactly
this call, so they still test Odoo's code with the option on.
"""

from odoo import models
from odoo.addons.sms.tools.sms_api import SmsApi

GATEWAYS_CONTEXT_KEY = "sms_marketing_odoo_sms_gateway_ids"
SEND_ENDPOINT = "/api/sms/3/send"

# Odoo's call (also when this module is imported again: never our own wrapper)
_contact_odoo_iap = getattr(SmsApi._contact_iap, "odoo_contact_iap", SmsApi._contact_iap)


def _contact_iap(self, local_endpoint, params, timeout=15):
    gateways = self.env.context.get(GATEWAYS_CONTEXT_KEY)
    ours = isinstance(gateways, models.BaseModel) and gateways._name == "sms.marketing.gateway"
    if not (ours and gateways and local_endpoint == SEND_ENDPOINT):
        return _contact_odoo_iap(self, local_endpoint, params, timeout=timeout)
    # the key is dropped: a gateway's provider that is Odoo's IAP calls IAP itself, never back here
    env = self.env(context={**self.env.context, GATEWAYS_CONTEXT_KEY: False})
    # sudo: Odoo's SMS go out as Odoo sends them, whoever triggered them
    return gateways.with_env(env).sudo()._send_odoo_sms(params.get("messages") or [])


# installed once per process; a no-op in databases without this addon (nothing sets the key there)
_contact_iap.odoo_contact_iap = _contact_odoo_iap
SmsApi._contact_iap = _contact_iap
