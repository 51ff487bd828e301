from . import test_audience, test_gateway, test_install, test_mailing, test_mailing_test_wizard, test_phone, test_sending, test_sending_concurrency, test_sms_encoding, test_status_webhook
