"""17.0.1.5.0: a trace keeps when it failed (``failed_at``), for the failure filters' index.

The column is new (the ORM created it empty, ``init`` its trigger and index before this script).
The traces that failed before take their last write's date, which the engagement filters read as
the failure's date until now (else their sending's, their creation's). Each row written keeps the
rule the trigger guards (failed, with a date): the trigger's function is not called.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """UPDATE sms_marketing_trace
              SET failed_at = COALESCE(write_date, sent_at, create_date, now() AT TIME ZONE 'UTC')
            WHERE state = 'failed' AND failed_at IS NULL"""
    )
