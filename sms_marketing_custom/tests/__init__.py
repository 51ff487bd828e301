from . import test_install, test_sms_encoding
