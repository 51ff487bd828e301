from . import sms_marketing_sale_figures  # isort:skip (before the models that inherit it)
from . import (
    sms_marketing_campaign,
    sms_marketing_campaign_report,
    sms_marketing_journey,
    sms_marketing_link,
    sms_marketing_mailing,
)
