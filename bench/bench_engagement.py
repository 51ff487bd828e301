"""Time of one count of each engagement filter at N list contacts; everything is rolled back.

    make bench-engagement [N=1000000]
    (or: N=1000000 odoo-bin shell -c ODOO_RC -d DB --no-http < bench/bench_engagement.py)

N contacts; four sent mailings (120, 75, 40 and 10 days ago) to every 2nd, 3rd,
5th and 7th contact (about 1.18 N traces: 90% delivered, 5% sent, 5% failed);
5% of the delivered traces clicked two days after their mailing. Each filter
is counted as a marketer (access rights and record rules apply) with
``search_count``, cold then warm; then the compute of 80 contacts (a list
view), and the audience of "Resend to Non-Clickers" of the newest mailing.
EXPLAIN=1 prints the plan of each count.
"""

import os
import time
from datetime import timedelta

from odoo import fields

env = globals()["env"]  # given by odoo-bin shell
N = int(os.environ.get("N", "1000000"))
EXPLAIN = os.environ.get("EXPLAIN") == "1"
NOW = "now() at time zone 'UTC'"
cr = env.cr

start = time.monotonic()
cr.execute("SELECT COALESCE(max(id), 0) FROM sms_marketing_contact")
base = cr.fetchone()[0]
cr.execute(
    f"""INSERT INTO sms_marketing_contact
               (name, phone, phone_sanitized, phone_country_code, company_id, create_date, write_date)
        SELECT 'c' || i, p, p, 'FR', 1, {NOW}, {NOW}
          FROM (SELECT i, '+336' || lpad(i::text, 8, '0') AS p FROM generate_series(1, %s) i) s""",
    [N],
)
cr.execute(f"INSERT INTO sms_marketing_list (name, active, company_id, create_date, write_date) "
           f"VALUES ('bench', true, 1, {NOW}, {NOW}) RETURNING id")  # fmt: skip
list_id = cr.fetchone()[0]
cr.execute(
    """INSERT INTO sms_marketing_subscription (contact_id, list_id)
       SELECT id, %s FROM sms_marketing_contact WHERE id > %s""",
    [list_id, base],
)
Mailing = env["sms.marketing.mailing"]
mailings = []
for days, modulo in ((120, 2), (75, 3), (40, 5), (10, 7)):
    mailing = Mailing.create(
        {"subject": f"bench {days} days ago", "body": "Sale https://shop.example.com", "list_ids": [(6, 0, [list_id])]}
    )
    link = env["sms.marketing.link"].create({"url": "https://shop.example.com", "mailing_id": mailing.id})
    mailing.write({"state": "done"})
    env.flush_all()
    trace_start = time.monotonic()
    cr.execute(
        f"""INSERT INTO sms_marketing_trace (mailing_id, res_model, res_id, number, uuid, state, sent_at,
                                             write_date, try_count)
            SELECT %s, 'sms.marketing.contact', id, phone_sanitized, md5(random()::text),
                   CASE WHEN id %% 20 = 1 THEN 'failed' WHEN id %% 20 = 2 THEN 'sent' ELSE 'delivered' END,
                   {NOW} - %s * interval '1 day' + (id %% 3600) * interval '1 second',
                   {NOW} - %s * interval '1 day' + interval '2 hours', 0
              FROM sms_marketing_contact WHERE id > %s AND id %% %s = 0""",
        [mailing.id, days, days, base, modulo],
    )
    traces = cr.rowcount
    trace_time = time.monotonic() - trace_start
    cr.execute(
        f"""INSERT INTO sms_marketing_link_click (link_id, trace_id, mailing_id, res_model, res_id, click_date,
                                                  create_date, write_date)
            SELECT %s, t.id, %s, t.res_model, t.res_id, t.sent_at + interval '2 days', {NOW}, {NOW}
              FROM sms_marketing_trace t
             WHERE t.mailing_id = %s AND t.state = 'delivered' AND t.res_id %% 100 < 5""",
        [link.id, mailing.id, mailing.id],
    )
    print(f"mailing {days} days ago: {traces} traces inserted in {trace_time:.2f}s, {cr.rowcount} clicks")
    mailings.append(mailing)
for table in ("sms_marketing_trace", "sms_marketing_contact", "sms_marketing_link_click"):
    cr.execute(f"ANALYZE {table}")
cr.execute("SELECT count(*) FROM sms_marketing_trace")
print(f"N={N} contacts, {cr.fetchone()[0]} traces, set up in {time.monotonic() - start:.1f}s")

marketer = env["res.users"].create(
    {
        "name": "bench marketer",
        "login": f"bench_engagement_{os.getpid()}",
        "groups_id": [(6, 0, [env.ref("sms_marketing_custom.group_sms_marketing_user").id])],
    }
)
Contact = env["sms.marketing.contact"].with_user(marketer)
now = fields.Datetime.now()
newest = mailings[-1]
FILTERS = (
    ("last SMS received in the last 30 days", [("sms_last_received_at", ">", now - timedelta(days=30))]),
    ("last SMS received over 60 days ago", [("sms_last_received_at", "<", now - timedelta(days=60))]),
    ("last SMS received not set", [("sms_last_received_at", "=", False)]),
    ("SMS received (30 days) >= 1", [("sms_received_30d_count", ">=", 1)]),
    ("SMS received (30 days) < 1", [("sms_received_30d_count", "<", 1)]),
    ("clicked (90 days)", [("sms_clicked_90d", "=", True)]),
    ("not clicked (90 days)", [("sms_clicked_90d", "=", False)]),
    ("last click set", [("sms_last_click_at", "!=", False)]),
    ("last delivery failure set", [("sms_last_failure_at", "!=", False)]),
    (
        "received newest, did not click it",
        [("sms_received_mailing_ids", "in", newest.ids), ("sms_clicked_mailing_ids", "not in", newest.ids)],
    ),
)
for label, domain in FILTERS:
    timings = []
    for _run in range(2):
        Contact.invalidate_model()
        begin = time.monotonic()
        count = Contact.search_count(domain)
        timings.append(time.monotonic() - begin)
    print(f"{label:38} {count:>9} contacts  {timings[0]:.2f}s cold, {timings[1]:.2f}s warm")
    if EXPLAIN:
        query = Contact._search(domain)
        cr.execute("EXPLAIN (ANALYZE, COSTS OFF) " + query.select("count(*)").code, query.select("count(*)").params)
        print("\n".join(row[0] for row in cr.fetchall()))

page = Contact.search([("id", ">", base)], limit=80)
begin = time.monotonic()
page.read(["sms_last_received_at", "sms_received_30d_count", "sms_clicked_90d", "sms_received_mailing_ids"])
print(f"compute of 80 contacts (a list view): {time.monotonic() - begin:.3f}s")

resend = Mailing.browse(newest.with_user(marketer).action_resend_to_non_clickers()["res_id"])
env.flush_all()
begin = time.monotonic()
stats = env["sms.marketing.audience"].with_user(marketer)._get_statistics(resend.with_user(marketer))
print(
    f"form statistics of the resend draft: {stats['total']} recipients, {time.monotonic() - begin:.2f}s",
)
# the same statistics without the engagement filter: the share of the audience machinery
plain = newest.with_user(marketer).copy({"domain": "[]"})
env.flush_all()
begin = time.monotonic()
stats = plain.env["sms.marketing.audience"]._get_statistics(plain)
print(f"form statistics of the same list without the filter: {stats['total']} recipients, "
      f"{time.monotonic() - begin:.2f}s")  # fmt: skip
cr.rollback()
