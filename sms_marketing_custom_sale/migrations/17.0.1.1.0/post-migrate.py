"""17.0.1.1.0: journeys carry a UTM campaign and medium (models/sms_marketing_journey.py).

The columns are new (the ORM created them empty before this script): each
journey made before gets a UTM campaign of its name and the SMS medium, as a
new one does; its steps' mailings made from now on carry them.
"""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["sms.marketing.journey"].with_context(active_test=False).search([])._ensure_utm_values()
