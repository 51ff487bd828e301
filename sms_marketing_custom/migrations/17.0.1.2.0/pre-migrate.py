"""17.0.1.2.0: every journey has a company (``company_id`` becomes required).

A journey without one was visible in every company, and its SMS were charged
on the default gateway of whichever company the journey cron ran in. Before
the ORM makes the column NOT NULL, each such journey takes the company of
what it already uses: its gateway's, else its lists' (the journey's company
must be theirs), else its starter's, else its responsible's, else its
creator's, else the first company. Its steps and participants (the company is
stored on them) and its steps' mailings follow.
"""

from odoo.tools import SQL
from odoo.tools.sql import table_exists


def migrate(cr, version):
    if not version or not table_exists(cr, "sms_marketing_journey"):
        return
    cr.execute(
        """UPDATE sms_marketing_journey j
              SET company_id = COALESCE(
                      (SELECT g.company_id FROM sms_marketing_gateway g WHERE g.id = j.gateway_id),
                      (SELECT min(l.company_id) FROM sms_marketing_journey_sms_marketing_list_rel r
                         JOIN sms_marketing_list l ON l.id = r.sms_marketing_list_id
                        WHERE r.sms_marketing_journey_id = j.id),
                      (SELECT u.company_id FROM res_users u WHERE u.id = j.sender_id),
                      (SELECT u.company_id FROM res_users u WHERE u.id = j.user_id),
                      (SELECT u.company_id FROM res_users u WHERE u.id = j.create_uid),
                      (SELECT min(id) FROM res_company))
            WHERE j.company_id IS NULL
        RETURNING j.id"""
    )
    journey_ids = [row[0] for row in cr.fetchall()]
    if not journey_ids:
        return
    for table in ("sms_marketing_journey_step", "sms_marketing_journey_participant"):
        cr.execute(
            SQL(
                """UPDATE %s x SET company_id = j.company_id
                     FROM sms_marketing_journey j
                    WHERE x.journey_id = j.id AND j.id = ANY(%s)""",
                SQL.identifier(table),
                journey_ids,
            )
        )
    cr.execute(
        """UPDATE sms_marketing_mailing m SET company_id = j.company_id
             FROM sms_marketing_journey_step s JOIN sms_marketing_journey j ON j.id = s.journey_id
            WHERE m.journey_step_id = s.id AND m.company_id IS NULL AND j.id = ANY(%s)""",
        [journey_ids],
    )
