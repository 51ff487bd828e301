"""Seed N mailing-list contacts by SQL and time the audience queries on them.

Usage (from the repository root, on a database with the module installed):
    source scripts/dev/odoo_env.sh
    $PYTHON bench/bench_audience.py -d smc_bench [-n 1000000]

Contacts get E.164 numbers directly (as a bulk SQL seed would), 1% blacklisted,
2% opted out, 1% invalid, 5% duplicated numbers, in one list. Times: the list
counters, the audience's statistics (``sms.marketing.audience._get_statistics``), a COUNT
over its classified query and the engine's trace build (every
window). Everything is rolled back.
"""

import argparse
import time

import odoo
from odoo.tools import SQL, config


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("-n", "--count", type=int, default=1_000_000)
    args = parser.parse_args()
    config.parse_config([])
    registry = odoo.registry(args.database)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        mailing_list = env["sms.marketing.list"].create({"name": "Audience benchmark"})
        env.flush_all()
        start = time.perf_counter()
        cr.execute(
            SQL(
                """
                WITH c AS (
                    INSERT INTO sms_marketing_contact (name, phone, phone_sanitized, phone_country_code, phone_error)
                    SELECT 'Bench ' || i,
                           '+1 202 ' || lpad(mod(i, 10000000)::text, 7, '0'),
                           CASE WHEN mod(i, 100) = 0 THEN NULL
                                -- every 20th number repeats the previous one (duplicates)
                                ELSE '+1202' || lpad(mod(i - (mod(i, 20) = 1)::int, 10000000)::text, 7, '0')
                           END,
                           CASE WHEN mod(i, 100) = 0 THEN NULL ELSE 'US' END,
                           CASE WHEN mod(i, 100) = 0 THEN 'invalid_for_region' END
                      FROM generate_series(1, %s) i
                 RETURNING id
                )
                INSERT INTO sms_marketing_subscription (contact_id, list_id, opt_out)
                SELECT id, %s, mod(id, 50) = 0 FROM c
                """,
                args.count,
                mailing_list.id,
            )
        )
        cr.execute(
            SQL(
                """
                INSERT INTO sms_marketing_blacklist (number, source, date, active)
                SELECT DISTINCT phone_sanitized, 'import', now(), TRUE FROM sms_marketing_contact
                 WHERE phone_sanitized IS NOT NULL AND mod(id, 100) = 7
                ON CONFLICT DO NOTHING
                """
            )
        )
        cr.execute("ANALYZE sms_marketing_contact; ANALYZE sms_marketing_subscription; ANALYZE sms_marketing_blacklist")
        print(f"seed {args.count} contacts by SQL: {time.perf_counter() - start:.1f}s")

        start = time.perf_counter()
        mailing_list.invalidate_recordset()
        counts = mailing_list.read(["contact_count", "valid_count", "optout_count", "blacklisted_count"])[0]
        print(f"list counters: {time.perf_counter() - start:.2f}s {counts}")

        mailing = env["sms.marketing.mailing"].create({"subject": "Bench", "list_ids": [(6, 0, mailing_list.ids)]})
        start = time.perf_counter()
        stats = mailing.env["sms.marketing.audience"]._get_statistics(mailing)
        print(f"audience statistics: {time.perf_counter() - start:.2f}s {stats}")

        start = time.perf_counter()
        cr.execute(
            SQL(
                "SELECT count(*) FROM (%s) r WHERE r.reason IS NULL",
                mailing.env["sms.marketing.audience"]._get_classified_query(mailing),
            )
        )
        print(f"select recipients to send: {time.perf_counter() - start:.2f}s ({cr.fetchone()[0]} rows)")

        start = time.perf_counter()
        found = env["sms.marketing.contact"].search_count(
            [("list_ids", "in", mailing_list.ids), ("blacklisted", "=", False), ("phone_sanitized", "!=", False)]
        )
        print(f"search_count 'valid and Blacklist is not set': {time.perf_counter() - start:.2f}s ({found})")

        # the engine's trace build: window after window of the audience, as a sending does
        engine = env["sms.marketing.engine"]
        params = engine._get_params()
        start, windows = time.perf_counter(), 0
        while not mailing.trace_build_done:
            engine._build_traces(mailing, params)
            windows += 1
        cr.execute(SQL("SELECT state, count(*) FROM sms_marketing_trace WHERE mailing_id = %s GROUP BY 1", mailing.id))
        print(f"build traces: {time.perf_counter() - start:.2f}s ({windows} windows, {dict(cr.fetchall())})")
        cr.rollback()


if __name__ == "__main__":
    main()
