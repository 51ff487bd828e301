# sms_marketing_subscription first: its table is also the relation table of
# contact.list_ids / list.contact_ids, and must be created as a model table (with id).
from . import sms_marketing_subscription  # noqa: I001
from . import (
    res_partner,
    sms_marketing_blacklist,
    sms_marketing_contact,
    sms_marketing_credit_move,
    sms_marketing_gateway,
    sms_marketing_gateway_price,
    sms_marketing_link,
    sms_marketing_link_click,
    sms_marketing_list,
    sms_marketing_mailing,
    sms_marketing_trace,
)
