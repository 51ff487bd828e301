"""17.0.1.1.0: blacklist entries keep the company that received their opt-out (``company_id``).

The column is new (the ORM created it empty before this script). Each entry
takes the company of its last opt-out in the consent log (an event without a
list, about the whole number): its mailing's company, else its gateway's,
else the company the event was recorded in. An entry without such an event
stays without company: only an SMS Marketing manager can remove it.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """UPDATE sms_marketing_blacklist b
              SET company_id = last.company_id
             FROM (SELECT DISTINCT ON (c.number) c.number,
                          COALESCE(m.company_id, g.company_id, c.company_id) AS company_id
                     FROM sms_marketing_consent c
                LEFT JOIN sms_marketing_mailing m ON m.id = c.mailing_id
                LEFT JOIN sms_marketing_gateway g ON g.id = c.gateway_id
                    WHERE c.list_id IS NULL AND c.event = 'opt_out'
                 ORDER BY c.number, c.date DESC, c.id DESC) AS last
            WHERE b.number = last.number AND b.company_id IS NULL"""
    )
