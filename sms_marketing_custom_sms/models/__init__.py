from . import res_config_settings, sms_marketing_engine, sms_marketing_gateway, sms_sms, sms_tracker
