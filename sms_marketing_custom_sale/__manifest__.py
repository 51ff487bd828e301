{
    "name": "SMS Marketing (Custom): UTM and Sales",
    "summary": "UTM values on SMS mailings and campaigns; the quotations, orders and revenue they bring",
    "version": "17.0.1.0.0",
    "category": "Marketing/SMS Marketing",
    "author": "sms_marketing_custom developers",
    "website": "https://example.invalid/sms_marketing_custom",
    "license": "LGPL-3",
    "depends": ["sms_marketing_custom", "sale"],
    "data": [
        "views/sms_marketing_mailing_views.xml",
        "views/sms_marketing_campaign_views.xml",
        "views/sms_marketing_campaign_report_views.xml",
    ],
    "post_init_hook": "post_init_hook",
    "uninstall_hook": "uninstall_hook",
    "auto_install": True,
    "installable": True,
}
