from . import test_install, test_mailing, test_sms_encoding
