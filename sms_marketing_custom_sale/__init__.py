from . import models


def post_init_hook(env):
    """Mailings made before the bridge get their UTM source and medium, campaigns and journeys their UTM
    campaign (the steps' mailings made from now on carry it)."""
    env["sms.marketing.campaign"].with_context(active_test=False).search([])._ensure_utm_values()
    env["sms.marketing.journey"].with_context(active_test=False).search([])._ensure_utm_values()
    env["sms.marketing.mailing"].with_context(active_test=False).search([])._ensure_utm_values()


def uninstall_hook(env):
    """Put back the campaign analysis without the sales columns: they read sale_order, which would
    take the view with it (DROP TABLE ... CASCADE) if Sales were uninstalled later."""
    from odoo.addons.sms_marketing_custom.models.sms_marketing_campaign_report import SmsMarketingCampaignReport

    SmsMarketingCampaignReport.init(env["sms.marketing.campaign.report"])
