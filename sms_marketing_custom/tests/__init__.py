from . import test_install, test_mailing, test_mailing_tour, test_sms_encoding
