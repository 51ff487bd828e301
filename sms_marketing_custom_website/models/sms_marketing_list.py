from odoo import _, fields, models


class SmsMarketingList(models.Model):
    _inherit = "sms.marketing.list"

    website_signup = fields.Boolean(
        string="Offered on the Website",
        help="Visitors may join this list with the website's “Get our SMS offers” block (confirmed by a YES SMS).",
    )
    website_consent_text = fields.Text(
        string="Consent Text",
        translate=True,
        default=lambda self: _(
            "I agree to receive marketing SMS at this number. Reply STOP to stop, HELP for help. "
            "Message and data rates may apply."
        ),
        help="Shown beside the box the visitor ticks on the website; kept with their consent as evidence.",
    )
