from . import test_odoo_iap
