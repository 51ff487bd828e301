from . import test_bad_input, test_install, test_security_matrix, test_sms_encoding, test_sql_safety
