"""Time Odoo's import path (``Model.load()``, what base_import calls) for N contacts into a list.

Usage (from the repository root, on a database with the module installed):
    source scripts/dev/odoo_env.sh
    $PYTHON bench/bench_import.py -d smc_bench [-n 100000] [-b 2000]

Odoo's import screen sends a file to ``load()`` in batches of 2,000 rows (its
"batch limit" option), one request each; ``-b`` sets the batch size.

Rows mix international and national numbers (read with the row's country),
duplicates and invalid numbers. The transaction is rolled back at the end.
"""

import argparse
import random
import time

import odoo
from odoo.tools import config


def rows(count):
    rng = random.Random(42)
    data = []
    for index in range(count):
        a, b, c = rng.randint(10, 99), rng.randint(10, 99), rng.randint(10, 99)
        kind = index % 3
        if kind == 0:
            country, phone = "France", f"06 {a} {b} {c} {rng.randint(10, 99)}"
        elif kind == 1:
            country, phone = "Belgium", f"0470.{a}.{b}.{c}"
        else:
            country, phone = "", f"+1 (202) 555-{rng.randint(100, 199):04d}"  # many duplicates
        if index % 50 == 0:
            phone = "12"  # invalid, kept and flagged
        data.append([f"Contact {index}", phone, country])
    return data


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("-n", "--count", type=int, default=100_000)
    parser.add_argument(
        "-b", "--batch", type=int, default=2000, help="rows per load() call (Odoo's import screen: 2000, its default)"
    )
    args = parser.parse_args()
    config.parse_config([])
    registry = odoo.registry(args.database)
    data = rows(args.count)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        mailing_list = env["sms.marketing.list"].create({"name": "Import benchmark"})
        contacts = env["sms.marketing.contact"].with_context(default_list_ids=mailing_list.ids)
        start, cpu_start = time.perf_counter(), time.process_time()
        messages = []
        for offset in range(0, len(data), args.batch):
            result = contacts.load(["name", "phone", "country_id"], data[offset : offset + args.batch])
            messages += result["messages"]
        env.flush_all()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        errors = [message for message in messages if message.get("type") == "error"]
        mailing_list.invalidate_recordset()
        print(
            f"load() of {args.count} contacts in batches of {args.batch}: {elapsed:.1f}s wall, "
            f"{cpu:.1f}s Odoo CPU ({args.count / elapsed:.0f} rows/s), "
            f"errors={len(errors)}, in list={mailing_list.contact_count}, valid={mailing_list.valid_count}, "
            f"invalid={mailing_list.invalid_count}"
        )
        cr.rollback()


if __name__ == "__main__":
    main()
