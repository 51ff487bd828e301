"""Measure the per-gateway rate limit over a real minute, with several senders at once.

    source scripts/dev/odoo_env.sh
    $PYTHON bench/measure_rate.py -d DB [--rate 50] [--senders 3] [--seconds 60]

DB must have sms_marketing_custom installed (it is changed: a list, contacts,
a gateway and a mailing are added; use a scratch database). The gateway
simulator runs in this process (127.0.0.1); the senders are separate processes,
each the queue cron's loop (``_run_sending_worker``), as several cron threads or
servers would be. Prints the messages the gateway accepted per second of the
window, their total, and the ratio to the limit.
"""

import argparse
import importlib
import multiprocessing
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_simulator():
    """The addon's gateway stand-in, imported from its folder (it needs no Odoo)."""
    sys.path.insert(0, str(ROOT / "sms_marketing_custom" / "tests"))
    return importlib.import_module("standins.gateway")


def init_odoo():
    import odoo

    odoo.tools.config.parse_config(["-c", os.environ["ODOO_RC"], "--log-level=warn"])
    return odoo


def sender(db, seconds):
    odoo = init_odoo()
    registry = odoo.modules.registry.Registry(db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        env["sms.marketing.mailing"]._run_sending_worker(time_budget=seconds, loop=True, idle_sleep=0.05)
        cr.commit()  # pylint: disable=invalid-commit


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--senders", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    odoo = init_odoo()
    sim = load_simulator().Simulator(balance=1e9, delivery=None, latency=args.latency_ms / 1000).start()
    contacts = int(args.rate * (args.seconds + 30))
    registry = odoo.modules.registry.Registry(args.database)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        gateway = env["sms.marketing.gateway"].create(
            {
                "name": "Rate limit measure",
                "provider": "http",
                "endpoint_url": sim.url,
                "allow_private_network": True,  # the simulator listens on 127.0.0.1
                "api_key": sim.api_key,
                "webhook_secret": sim.webhook_secret,
                "rate_limit": args.rate,
            }
        )
        gateway._change_balance(contacts * 2.0, "purchase")
        sms_list = env["sms.marketing.list"].create({"name": "Rate limit measure"})
        cr.execute(
            """INSERT INTO sms_marketing_contact (name, phone, phone_sanitized)
               SELECT 'R' || i, '+3249' || lpad(i::text, 7, '0'), '+3249' || lpad(i::text, 7, '0')
                 FROM generate_series(1, %s) i RETURNING id""",
            [contacts],
        )
        ids = [row[0] for row in cr.fetchall()]
        cr.execute(
            "INSERT INTO sms_marketing_subscription (contact_id, list_id) SELECT unnest(%s::int[]), %s",
            [ids, sms_list.id],
        )
        mailing = env["sms.marketing.mailing"].create(
            {"subject": "Rate", "body": "Hello", "list_ids": [(6, 0, sms_list.ids)], "gateway_id": gateway.id}
        )
        mailing.state = "sending"
        cr.commit()  # pylint: disable=invalid-commit
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=sender, args=(args.database, args.seconds + 20)) for _i in range(args.senders)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    times = sorted(message["at"] for message in sim.state()["sent"])
    sim.stop()
    # the window: one real minute starting 5 s after the first message (senders warmed up)
    start = times[0] + 5
    end = start + args.seconds
    inside = [t for t in times if start <= t < end]
    per_second = [0] * int(args.seconds)
    for t in inside:
        per_second[int(t - start)] += 1
    measured = len(inside) / args.seconds
    print(f"senders={args.senders} limit={args.rate:g}/s window={args.seconds:g}s messages={len(inside)}")
    print(f"per second: min {min(per_second)}, max {max(per_second)}")
    print(f"measured {measured:.2f}/s = {measured / args.rate:.3f} x the limit")
    return 0 if abs(measured / args.rate - 1) <= 0.05 else 1


if __name__ == "__main__":
    sys.exit(main())
