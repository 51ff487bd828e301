from . import test_audience, test_install, test_mailing, test_phone, test_sms_encoding
