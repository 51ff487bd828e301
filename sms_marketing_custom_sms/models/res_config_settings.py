from odoo import fields, models

from .sms_sms import ROUTE_ODOO_SMS_PARAM


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    # groups: whether every SMS of the database leaves through the gateways (and is charged on their
    # ledgers) is the Settings administrators' choice, not the SMS marketing managers'
    sms_marketing_route_odoo_sms = fields.Boolean(
        string="Odoo's SMS through the SMS gateways",
        config_parameter=ROUTE_ODOO_SMS_PARAM,
        groups="base.group_system",
        help="Every SMS Odoo sends (chatter, SMS templates, automated actions, Odoo's SMS Marketing) leaves "
        "through the gateway its country's route names, charged on its credits; those routed to Odoo SMS "
        "(IAP credits) or to no gateway go through Odoo's SMS service as before.",
    )
