from odoo.addons.sms_marketing_custom.tests.test_translations import TranslationFilesMixin
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestTranslationFiles(TranslationFilesMixin, TransactionCase):
    MODULE = "sms_marketing_custom_website"
