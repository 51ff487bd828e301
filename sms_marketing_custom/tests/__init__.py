from . import test_install, test_security_matrix, test_sql_safety
