from . import odoo_iap
