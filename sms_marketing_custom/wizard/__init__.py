from . import sms_marketing_mailing_test
