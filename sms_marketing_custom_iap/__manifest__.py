{
    "name": "SMS Marketing (Custom): Odoo SMS credits",
    "summary": "Send SMS marketing mailings with Odoo's own SMS credits (IAP)",
    "version": "17.0.1.0.0",
    "category": "Marketing/SMS Marketing",
    "author": "sms_marketing_custom developers",
    "website": "https://example.invalid/sms_marketing_custom",
    "license": "LGPL-3",
    "depends": ["sms_marketing_custom", "sms"],
    "data": ["data/sms_marketing_gateway_data.xml"],
    "auto_install": True,
    "installable": True,
}
