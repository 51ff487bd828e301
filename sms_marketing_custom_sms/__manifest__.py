{
    "name": "SMS Marketing (Custom): Odoo's SMS through our gateways",
    "summary": "Every SMS Odoo sends (chatter, templates, automated actions, SMS Marketing) through the SMS gateways",
    "version": "17.0.1.0.0",
    "category": "Marketing/SMS Marketing",
    "author": "sms_marketing_custom developers",
    "website": "https://example.invalid/sms_marketing_custom",
    "license": "LGPL-3",
    "depends": ["sms_marketing_custom", "sms"],
    "data": [
        "views/res_config_settings_views.xml",
        "views/sms_sms_views.xml",
    ],
    "auto_install": True,
    "installable": True,
}
