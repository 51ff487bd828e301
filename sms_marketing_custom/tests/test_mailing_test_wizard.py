from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import SmsEngineCase


@tagged("post_install", "-at_install")
class TestMailingTestWizard(SmsEngineCase):
    def _wizard(self, numbers, gateway=None):
        mailing = self._make_mailing(gateway=gateway).with_user(self.user_marketing)
        form = Form(
            self.env["sms.marketing.mailing.test"]
            .with_user(self.user_marketing)
            .with_context(default_mailing_id=mailing.id)
        )
        form.numbers = numbers
        return mailing, form.save()

    def test_bad_numbers_named_one_by_one(self):
        _mailing, wizard = self._wizard("+32470000001, 12ab, +1")
        with self.assertRaises(UserError) as caught:
            wizard.action_send()
        self.assertIn("12ab", str(caught.exception))
        self.assertIn("+1 is not", str(caught.exception))
        self.assertNotIn("+32470000001 is not", str(caught.exception))

    def test_bad_numbers_said_while_typed(self):
        # the dialog names the bad numbers before Send, with Send's own sentence, and drops its price
        mailing = self._make_mailing().with_user(self.user_marketing)
        form = Form(
            self.env["sms.marketing.mailing.test"]
            .with_user(self.user_marketing)
            .with_context(default_mailing_id=mailing.id)
        )
        self.assertFalse(form.numbers_error, "nothing typed, nothing to say")
        form.numbers = "+32470000001, 12ab"
        self.assertEqual(form.numbers_error, "12ab is not a valid phone number.")
        self.assertFalse(form.cost_estimate)
        form.numbers = "+32470000001, +32470000002"
        self.assertFalse(form.numbers_error)
        self.assertIn("credits", form.cost_estimate)

    def test_send_through_sandbox(self):
        balance = self.sandbox.balance
        mailing, wizard = self._wizard("+32 470 12 34 66, +32470123467")
        messages = len(mailing.message_ids)
        action = wizard.action_send()
        self.assertEqual(action["res_id"], wizard.id)
        self.assertEqual(wizard.state, "done")
        self.assertIn("+32470123466", wizard.result_html)
        self.assertIn("Sent", wizard.result_html)
        self.assertFalse(mailing.trace_ids, "a test leaves nothing for the cron")
        self.assertEqual(mailing.state, "draft")
        self.assertGreater(len(mailing.message_ids), messages, "logged on the chatter")
        self.assertAlmostEqual(self.sandbox.balance, balance - 2)
        self.assertAlmostEqual(self._ledger_balance(self.sandbox), self.sandbox.balance)

    def test_send_through_simulator_shows_refusals(self):
        self.sim.configure(number_states={"+32470123467": "rejected"})
        _mailing, wizard = self._wizard("+32470123466, +32470123467", gateway=self.http_gateway)
        wizard.action_send()
        self.assertIn("The gateway rejected the message.", wizard.result_html)
        self.assertEqual([m["number"] for m in self.sim.state()["sent"]], ["+32470123466"])
