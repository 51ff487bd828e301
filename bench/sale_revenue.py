"""Cost of the sales figures of sms_marketing_custom_sale (and of the leads figures of
sms_marketing_custom_crm when it is installed) at N traces; everything is rolled back.

    N=100000 odoo-bin shell -c ODOO_RC -d DB --no-http < bench/sale_revenue.py
    (DB: sms_marketing_custom_sale installed, e.g. a copy of the test database; with
    sms_marketing_custom_crm installed too, the leads rows are added)

Twenty mailings in two campaigns share N traces; ORDERS sale orders (default
N / 5) are spread over the twenty mailings' UTM sources (two thirds) and a
source of no mailing (one third), half confirmed, created over 60 days from
the mailings' sending (so the 30-day window cuts some). Leads mode (the CRM
bridge installed): LEADS leads (default N / 5) spread the same way, one in
ten lost. Timed, warm, median of five runs: the campaign analysis of the two
campaigns with and without the three sales columns (and the two leads
columns), the sales (leads) figures of the twenty mailings (one query), and
the campaign form's figures.
"""

import os
import statistics
import time

env = globals()["env"]  # given by odoo-bin shell
N = int(os.environ.get("N", "100000"))
ORDERS = int(os.environ.get("ORDERS", str(N // 5)))
MAILINGS = 20
cr = env.cr
NOW = "now() at time zone 'UTC'"

campaigns = env["sms.marketing.campaign"].create([{"name": "bench A"}, {"name": "bench B"}])
mailings = env["sms.marketing.mailing"].create(
    [
        {"subject": f"bench {i}", "body": "Hi", "campaign_id": campaigns[i % 2].id, "schedule_date": "2026-01-01"}
        for i in range(MAILINGS)
    ]
)
env.flush_all()
cr.execute(
    """INSERT INTO sms_marketing_trace (mailing_id, res_model, res_id, number, uuid, state, sent_at, try_count,
                                        write_date)
       SELECT (%s::int[])[1 + i %% %s], 'sms.marketing.contact', i, '+336' || lpad(i::text, 8, '0'),
              md5(i::text || random()::text), 'delivered', '2026-01-01', 1, '2026-01-01'
         FROM generate_series(1, %s) i""",
    [mailings.ids, MAILINGS, N],
)
partner = env["res.partner"].create({"name": "bench customer"})
product = env["product.product"].create({"name": "bench product", "list_price": 10.0})
template = env["sale.order"].create(
    {"partner_id": partner.id, "order_line": [(0, 0, {"product_id": product.id, "price_unit": 10.0})]}
)
other_source = env["utm.source"].create({"name": "bench other source"})
env.flush_all()
cr.execute(
    """SELECT column_name FROM information_schema.columns
        WHERE table_name = 'sale_order' AND column_name NOT IN ('id', 'name', 'source_id', 'campaign_id', 'state',
                                                                'amount_untaxed', 'create_date')"""
)
columns = [row[0] for row in cr.fetchall()]
copied = ", ".join(f'"{column}"' for column in columns)
sources = mailings.mapped("utm_source_id").ids
cr.execute(
    f"""INSERT INTO sale_order (name, source_id, campaign_id, state, amount_untaxed, create_date, {copied})
        SELECT 'bench' || i,
               CASE WHEN i %% 3 = 0 THEN %s ELSE (%s::int[])[1 + i %% %s] END,
               NULL, CASE WHEN i %% 2 = 0 THEN 'sale' ELSE 'draft' END, 10 + i %% 90,
               timestamp '2026-01-01' + (i %% 60) * interval '1 day', {copied}
          FROM sale_order, generate_series(1, %s) i
         WHERE sale_order.id = %s""",
    [other_source.id, sources, MAILINGS, ORDERS, template.id],
)
Report = env["sms.marketing.campaign.report"]
WITH_LEADS = "lead_count" in Report._fields
LEADS = int(os.environ.get("LEADS", str(N // 5))) if WITH_LEADS else 0
if WITH_LEADS:
    lead = env["crm.lead"].create({"name": "bench lead", "type": "opportunity"})
    env.flush_all()
    cr.execute(
        """SELECT column_name FROM information_schema.columns
            WHERE table_name = 'crm_lead' AND column_name NOT IN ('id', 'name', 'source_id', 'campaign_id', 'active',
                                                                'expected_revenue', 'create_date', 'company_id')"""
    )
    copied = ", ".join(f'"{row[0]}"' for row in cr.fetchall())
    cr.execute(
        f"""INSERT INTO crm_lead (name, source_id, campaign_id, active, expected_revenue, create_date, company_id,
                                  {copied})
            SELECT 'bench' || i,
                   CASE WHEN i %% 3 = 0 THEN %s ELSE (%s::int[])[1 + i %% %s] END,
                   NULL, i %% 10 <> 0, 100 + i %% 900,
                   timestamp '2026-01-01' + (i %% 60) * interval '1 day', %s, {copied}
              FROM crm_lead, generate_series(1, %s) i
             WHERE crm_lead.id = %s""",
        [other_source.id, sources, MAILINGS, mailings[0].company_id.id, LEADS, lead.id],
    )
cr.execute("ANALYZE sms_marketing_trace; ANALYZE sale_order; ANALYZE sms_marketing_link_click; ANALYZE crm_lead")
domain = [("campaign_id", "in", campaigns.ids)]
base = ["__count", "recipient_count:sum", "sent_count:sum", "clicked_count:sum"]
sales = ["sale_quotation_count:sum", "sale_order_count:sum", "sale_revenue:sum"]


def timed(function, runs=5):
    function()  # warm
    times = []
    for _run in range(runs):
        env.invalidate_all()
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times), result


rows = [
    ("campaign analysis, 2 campaigns, without sales", lambda: Report._read_group(domain, ["campaign_id"], base)),
    ("campaign analysis, 2 campaigns, with sales", lambda: Report._read_group(domain, ["campaign_id"], base + sales)),
    ("sales figures of the 20 mailings (one query)", lambda: Report._get_sale_figures(mailings.ids)),
    ("campaign form figures (2 campaigns)", lambda: campaigns.mapped("sale_revenue")),
]
if WITH_LEADS:
    leads = ["lead_count:sum", "lead_expected_revenue:sum"]
    rows += [
        (
            "campaign analysis, 2 campaigns, sales and leads",
            lambda: Report._read_group(domain, ["campaign_id"], base + sales + leads),
        ),
        ("leads figures of the 20 mailings (one query)", lambda: Report._get_lead_figures(mailings.ids)),
        ("campaign form leads figures (2 campaigns)", lambda: campaigns.mapped("lead_expected_revenue")),
        ("stat button: lead ids of one mailing", lambda: mailings[:1].action_view_leads()),
    ]
cr.execute("SELECT count(*) FROM sms_marketing_trace")
traces = cr.fetchone()[0]
print(f"{traces} traces, {ORDERS} bench orders, {LEADS} bench leads, {MAILINGS} mailings, 2 campaigns")
for label, function in rows:
    median, low, high, result = timed(function)
    print(f"{label:<50} {median * 1000:8.1f} ms  [{low * 1000:.1f}-{high * 1000:.1f}]")
total = Report._read_group(domain, [], sales)
print("sales of the two campaigns (quotations, orders, revenue):", total)
if WITH_LEADS:
    print("leads of the two campaigns (leads, expected revenue):", Report._read_group(domain, [], leads))
cr.rollback()
