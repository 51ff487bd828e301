from . import test_install, test_links, test_links_routes, test_sms_encoding
