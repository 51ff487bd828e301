from . import sms_marketing_join_request, sms_marketing_list, website_sms_signup
