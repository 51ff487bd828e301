{
    "name": "SMS Marketing (Custom): Leads",
    "summary": "The leads and opportunities SMS mailings and campaigns bring, with their expected revenue",
    "version": "17.0.1.0.0",
    "category": "Marketing/SMS Marketing",
    "author": "sms_marketing_custom developers",
    "website": "https://example.invalid/sms_marketing_custom",
    "license": "LGPL-3",
    # the sales bridge owns the mailings' UTM values and the attribution rule, which leads follow
    "depends": ["sms_marketing_custom_sale", "crm"],
    "data": [
        "views/sms_marketing_mailing_views.xml",
        "views/sms_marketing_campaign_views.xml",
        "views/sms_marketing_campaign_report_views.xml",
    ],
    "uninstall_hook": "uninstall_hook",
    "auto_install": True,
    "installable": True,
}
