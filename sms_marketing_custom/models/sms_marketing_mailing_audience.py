"""The audience of a mailing, as SQL (the sending engine and the form's counter build on it).

``_get_recipients_query()`` selects one row per recipient record:
``(res_id, number, raw_phone, country_code, opted_out)``, not deduplicated and
not checked against the blacklist. ``_get_recipients_classified_query()``
adds ``reason``: why the row gets no SMS, with this precedence, so that the
statistics partition the audience and the engine can cancel rows the same way:

1. ``invalid``: no valid number (``number`` IS NULL);
2. ``blacklisted``: the number is in the active blacklist;
3. ``opted_out``: the contact opted out of all the chosen lists;
4. ``duplicate``: the number already appears on an eligible row with a lower
   ``res_id`` ("one person, one SMS": same number across lists or records);

and NULL for the rows to send to. Everything is computed by PostgreSQL on the
stored, indexed E.164 numbers, whatever the size of the audience.
"""

from odoo import _, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .sms_marketing_recipient_model import _eval_domain


class SmsMarketingMailing(models.Model):
    _inherit = "sms.marketing.mailing"

    # ------------------------------------------------------------------ recipients
    def _get_recipient_domain(self):
        """The mailing's filter (``domain``) as a list."""
        self.ensure_one()
        return _eval_domain(self.env, self.domain, self.user_id)

    def _get_recipients_query(self):
        """SQL of the mailing's audience: rows (res_id, number, raw_phone, country_code, opted_out).

        Lists (mailing-list contacts): the contacts subscribed to any of ``list_ids``
        (and matching ``domain`` when set); ``opted_out`` when opted out of all of
        them; no list, no recipient. Other models: the records matching ``domain``.
        The model's ir.rules are not applied: the cron runs as superuser while the
        domain is the marketer's.
        """
        self.ensure_one()
        model_name = self.recipient_model or "sms.marketing.contact"
        config = self.env["sms.marketing.recipient.model"]._get_for_model(model_name)
        if not config:
            raise UserError(
                _("%(model)s is not an SMS-enabled model.", model=self.recipient_model_id.name or model_name)
            )
        domain = self._get_recipient_domain()
        if model_name != "sms.marketing.contact":
            numbers = config._get_numbers_query(domain)
            return SQL(
                "SELECT r.res_id, r.number, r.raw_phone, r.country_code, FALSE AS opted_out FROM (%s) r",
                numbers,
            )
        list_ids = self.list_ids.ids
        if not list_ids:
            return SQL(
                "SELECT NULL::int AS res_id, NULL::varchar AS number, NULL::varchar AS raw_phone,"
                " NULL::varchar AS country_code, FALSE AS opted_out WHERE FALSE"
            )
        self.env["sms.marketing.subscription"].flush_model()
        numbers = config._get_numbers_query(domain)
        return SQL(
            """
            SELECT r.res_id, r.number, r.raw_phone, r.country_code, s.opted_out
              FROM (SELECT contact_id, bool_and(COALESCE(opt_out, FALSE)) AS opted_out
                      FROM sms_marketing_subscription
                     WHERE list_id = ANY(%s)
                  GROUP BY contact_id) s
              JOIN (%s) r ON r.res_id = s.contact_id
            """,
            list_ids,
            numbers,
        )

    def _get_recipients_classified_query(self):
        """The recipients query plus ``reason`` (invalid/blacklisted/opted_out/duplicate, NULL to send)."""
        self.ensure_one()
        self.env["sms.marketing.blacklist"].flush_model(["number", "active"])
        return SQL(
            """
            SELECT k.res_id, k.number, k.raw_phone, k.country_code, k.opted_out,
                   CASE WHEN k.number IS NULL THEN 'invalid'
                        WHEN k.blacklisted THEN 'blacklisted'
                        WHEN k.opted_out THEN 'opted_out'
                        WHEN row_number() OVER (PARTITION BY k.number, k.eligible ORDER BY k.res_id) > 1
                        THEN 'duplicate'
                   END AS reason
              FROM (SELECT r.*, b.id IS NOT NULL AS blacklisted,
                           r.number IS NOT NULL AND b.id IS NULL AND NOT r.opted_out AS eligible
                      FROM (%s) r
                 LEFT JOIN sms_marketing_blacklist b ON b.number = r.number AND b.active) k
            """,
            self._get_recipients_query(),
        )

    def _get_recipient_statistics(self):
        """Counts of the audience, in SQL: total, valid, invalid, blacklisted, opted_out, duplicates,
        to_send and by_country {ISO code or False: recipients to send to}."""
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                """
                SELECT c.country_code,
                       count(*),
                       count(*) FILTER (WHERE c.number IS NOT NULL),
                       count(*) FILTER (WHERE c.reason = 'blacklisted'),
                       count(*) FILTER (WHERE c.reason = 'opted_out'),
                       count(*) FILTER (WHERE c.reason = 'duplicate'),
                       count(*) FILTER (WHERE c.reason IS NULL)
                  FROM (%s) c
              GROUP BY c.country_code
                """,
                self._get_recipients_classified_query(),
            )
        )
        keys = ("total", "valid", "blacklisted", "opted_out", "duplicates", "to_send")
        stats = dict.fromkeys(keys, 0)
        by_country = {}
        for country_code, *counts in self.env.cr.fetchall():
            for key, count in zip(keys, counts, strict=True):
                stats[key] += count
            if counts[-1]:
                by_country[country_code or False] = counts[-1]
        stats["invalid"] = stats["total"] - stats["valid"]
        stats["by_country"] = by_country
        return stats
