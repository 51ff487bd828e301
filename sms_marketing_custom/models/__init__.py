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
    sms_marketing_subscription,
    sms_marketing_trace,
)
