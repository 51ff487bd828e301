from . import test_click_everywhere, test_odoo_sms, test_odoo_sms_claim, test_odoo_sms_per_message, test_translations
