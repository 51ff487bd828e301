from . import models


def uninstall_hook(env):
    """Put back the campaign analysis without the leads columns: they read crm_lead, which would take
    the view with it (DROP TABLE ... CASCADE) if CRM were uninstalled later."""
    from odoo.addons.sms_marketing_custom_sale.models.sms_marketing_campaign_report import SmsMarketingCampaignReport

    SmsMarketingCampaignReport.init(env["sms.marketing.campaign.report"])
