"""Cost of the frequency cap and the sending window when building traces; everything is rolled back.

    N=100000 odoo-bin shell -c ODOO_RC -d DB --no-http < bench/bench_compliance.py

N list contacts (US with eight area codes, France, Belgium), 10% of them texted two
hours before by another mailing; for each rule set, the audience count (what the
form shows) and the build of all traces in one window are timed.
"""

import os
import time

env = globals()["env"]  # given by odoo-bin shell
N = int(os.environ.get("N", "100000"))
NOW = "now() at time zone 'UTC'"
cr = env.cr
cr.execute(f"INSERT INTO sms_marketing_list (name, active, company_id, create_date, write_date) "
           f"VALUES ('bench', true, 1, {NOW}, {NOW}) RETURNING id")  # fmt: skip
list_id = cr.fetchone()[0]
cr.execute("SELECT COALESCE(max(id), 0) FROM sms_marketing_contact")
base = cr.fetchone()[0]
cr.execute(
    f"""INSERT INTO sms_marketing_contact
               (name, phone, phone_sanitized, phone_country_code, company_id, create_date, write_date)
        SELECT 'c' || i, p, p, cc, 1, {NOW}, {NOW} FROM (
          SELECT i, CASE i %% 3
                      WHEN 0 THEN '+1' || (ARRAY['202','312','415','305','617','713','808','907'])[1 + i %% 8]
                                  || lpad((2000000 + i)::text, 7, '0')
                      WHEN 1 THEN '+336' || lpad(i::text, 8, '0')
                      ELSE '+32470' || lpad((i %% 1000000)::text, 6, '0') END AS p,
                 CASE i %% 3 WHEN 0 THEN 'US' WHEN 1 THEN 'FR' ELSE 'BE' END AS cc
            FROM generate_series(1, %s) i) s""",
    [N],
)
cr.execute(
    """INSERT INTO sms_marketing_subscription (contact_id, list_id)
       SELECT id, %s FROM sms_marketing_contact WHERE id > %s""",
    [list_id, base],
)
Mailing = env["sms.marketing.mailing"]
old = Mailing.create({"subject": "old", "body": "x", "state": "done"})
cr.execute(
    f"""INSERT INTO sms_marketing_trace (mailing_id, res_model, res_id, number, uuid, state, sent_at, try_count)
        SELECT %s, 'sms.marketing.contact', id, phone_sanitized, md5(random()::text), 'sent',
               {NOW} - interval '2 hours', 0
          FROM sms_marketing_contact WHERE id > %s AND id %% 10 = 0""",
    [old.id, base],
)
for table in ("sms_marketing_trace", "sms_marketing_contact", "sms_marketing_subscription"):
    cr.execute(f"ANALYZE {table}")
engine = env["sms.marketing.engine"]
params = dict(engine._get_params(), build_first_step=10**9, build_max_step=10**9)
CASES = (
    ("plain", {}),
    ("cap K=1/24h", {"frequency_cap_count": 1}),
    ("window 09-20", {"quiet_hours": True}),
    ("cap + window", {"frequency_cap_count": 1, "quiet_hours": True}),
)
for label, values in CASES:
    mailing = Mailing.create(
        {"subject": label, "body": "Hi", "list_ids": [(6, 0, [list_id])], "include_optout": False, **values}
    )
    env.flush_all()
    start = time.monotonic()
    stats = mailing.env["sms.marketing.audience"]._get_statistics(mailing)
    counted = time.monotonic() - start
    mailing.state = "sending"
    env.flush_all()
    start = time.monotonic()
    while not mailing.trace_build_done:
        engine._build_traces(mailing, params)
        mailing.invalidate_recordset()
    built = time.monotonic() - start
    cr.execute(
        """SELECT state, failure_type, count(*), count(DISTINCT time_zone) FROM sms_marketing_trace
            WHERE mailing_id = %s GROUP BY 1, 2 ORDER BY 1, 2""",
        [mailing.id],
    )
    print(f"{label}: N={N} count {counted:.2f}s (capped {stats['frequency_capped']}), build {built:.2f}s")
    print(f"   traces (state, reason, count, zone keys): {cr.fetchall()}")
cr.rollback()
