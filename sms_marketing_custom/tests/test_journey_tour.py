"""Chromium: build a two-step journey and test it (static/src/tours/sms_marketing_journey_tour.js)."""

from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestJourneyTour(HttpCase):
    def test_journey_tour(self):
        """As a marketer: the journey form, its steps as a tree, and Test, which sends nothing."""
        self.env["sms.marketing.list"].create(
            {"name": "Tour journey list", "contact_ids": [(0, 0, {"name": "Tess", "phone": "+32 470 55 44 34"})]}
        )
        new_test_user(
            self.env,
            login="journey_tour_marketer",
            groups="base.group_user,sms_marketing_custom.group_sms_marketing_user",
        )
        self.start_tour("/web", "sms_marketing_custom_journey", login="journey_tour_marketer")
        journey = self.env["sms.marketing.journey"].search([("name", "=", "Tour journey")])
        self.assertEqual(len(journey), 1)
        self.assertEqual(journey.step_ids.mapped("name"), ["Hello", "Reminder"], "one step saved per dialog")
        hello, reminder = journey.step_ids.sorted("id")
        self.assertEqual((hello.body, reminder.body), ("Hello from the tour", "Reminder from the tour"))
        self.assertEqual(reminder.parent_id, hello)
        self.assertEqual(journey.trigger, "manual")
        self.assertFalse(journey.participant_ids)
        self.assertFalse(self.env["sms.marketing.mailing"].search([("journey_step_id", "in", journey.step_ids.ids)]))
