{
    "name": "SMS Marketing (Custom): Website sign-up",
    "summary": "A website block to join an SMS list, confirmed by a YES from the phone (double opt-in)",
    "version": "17.0.1.0.0",
    "category": "Marketing/SMS Marketing",
    "author": "sms_marketing_custom developers",
    "website": "https://example.invalid/sms_marketing_custom",
    "license": "LGPL-3",
    "depends": ["sms_marketing_custom", "website"],
    "data": [
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "views/sms_marketing_list_views.xml",
        "views/website_sms_signup_views.xml",
        "views/signup_templates.xml",
        "views/snippets.xml",
    ],
    "assets": {
        "web.assets_frontend": [
            "sms_marketing_custom_website/static/src/js/sms_signup.js",
            "sms_marketing_custom_website/static/src/scss/sms_signup.scss",
        ],
        "website.assets_wysiwyg": [
            "sms_marketing_custom_website/static/src/js/sms_signup_options.js",
        ],
        "web.assets_tests": [
            "sms_marketing_custom_website/static/tests/tours/*.js",
        ],
    },
    "auto_install": True,
    "installable": True,
}
