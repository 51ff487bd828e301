from . import (
    sms_marketing_journey_wizards,
    sms_marketing_mailing_schedule,
    sms_marketing_mailing_send,
    sms_marketing_mailing_test,
)
