"""The sending engine's batch: claim, prepare, deliver, and route through the gateways.

``_deliver`` is the one way an SMS leaves Odoo (the engine's batches, the test
SMS and the keyword answers, through ``_send_now``), in two transactions with
the provider call between them and no lock held across it (docs/design.md,
"Sending", 4): the reservation (models/sms_marketing_engine_ledger.py)
committed; the provider called; the answers recorded and the reservation
settled (models/sms_marketing_engine_record.py). ``_send_batch`` claims the
batch first (``FOR NO KEY UPDATE SKIP LOCKED``, then the frequency cap and the
sending window checked again) and prepares its messages
(``tools.messages.new_message``).
"""

import logging
import threading
import time
from collections import namedtuple

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..providers import PROVIDERS, SERVER_ERROR, SmsGatewayError, SmsGatewayTransientError
from ..tools import pricing
from ..tools.messages import new_message
from ..tools.sms_encoding import segment_count

_logger = logging.getLogger(__name__)

# Namespace of the per-number advisory locks of the frequency cap at claim time ("SMF").
CAP_LOCK_NAMESPACE = 0x534D46
# Where each runner's claim walk is, per (database, thread) then mailing: kept from one cron run to
# the next (a cron thread runs its sender cron again and again); lost with the process, harmlessly.
RUNNER_CURSORS = {}
# The mailings whose place a runner keeps, those it claimed from last: a server that runs for months
# sends thousands of mailings, and a place forgotten costs one walk from the mailing's first trace.
RUNNER_CURSOR_MAILINGS = 64
# A per-message provider's batches: the first of a run is this size, the next ones take at most this
# share of the shorter of their lease and the run's time budget at the time per message measured.
PROBE_BATCH_SIZE = 20
BATCH_TIME_SHARE = 0.5
# A claimed trace, as ``_claim_rows`` selects it.
ClaimedRow = namedtuple("ClaimedRow", "id res_id number uuid country_code try_count")
# What ``_deliver`` did: messages reserved and sent (``count``), the reservation's ledger line, the
# provider's {uuid: result}, a transient error's text, a refusal (``error``; ``released``: its
# reservation given back here), the credits spent, whether the gateway said it lacked credits, and
# ``recovered`` when a recovery closed the lease first (the answer was dropped).
Delivery = namedtuple(
    "Delivery",
    "count move_id results transient_error error released spent insufficient recovered",
    defaults=(None, None, None, None, False, 0.0, False, False),
)


# One model, one job per file (see models/sms_marketing_engine.py): the split is the point.
class SmsMarketingEngine(models.AbstractModel):
    _inherit = "sms.marketing.engine"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------ one batch
    @api.model
    def _send_batch(self, mailing, params):
        """Claim, prepare and deliver (``_deliver``) one batch. Returns the traces claimed, 0 to stop.

        A sender killed between the reservation and the record leaves a lease
        that ``_recover_batches`` settles once it has expired.
        """
        self.env.flush_all()
        gateway = self._get_gateway(mailing)
        rows = self._claim(mailing, dict(params, batch_size=self._get_batch_size(gateway, params)))
        if not rows:
            return 0
        gateway = self._route_batch(mailing, rows, params)
        if not gateway:
            mailing._set_paused("gateway_error", _("No SMS gateway is configured: add one in the configuration."))
            return 0
        messages = self._prepare(mailing, gateway, rows, params)
        # the rest of a batch the balance does not cover stays pending, untouched
        delivery = self._deliver(
            mailing, gateway, messages, params, on_short=lambda _count: self._pause_for_credit(mailing, gateway)
        )
        if not delivery.count:
            return 0
        if delivery.error:  # refused for good: nothing was sent, nothing is charged
            if delivery.released:
                mailing._set_paused("gateway_error", str(delivery.error))
            return 0
        if delivery.recovered:
            _logger.warning(
                "mailing %s: batch %s was recovered by another runner; only its messages in flight were recorded",
                mailing.id,
                delivery.move_id,
            )
            return len(rows)
        if delivery.insufficient:
            self._pause_for_credit(mailing, gateway)
        if delivery.transient_error:
            _logger.info("mailing %s: gateway error, batch retried later: %s", mailing.id, delivery.transient_error)
            return 0  # stop hammering a failing gateway in this run; the cron comes back at next_try_at
        return len(rows)

    # ------------------------------------------------------------------ the one way a message leaves
    @api.model
    def _deliver(self, mailing, gateway, messages, params, on_short=None):
        """Reserve, send, record and settle ``messages`` (``tools.messages.new_message``): a ``Delivery``.

        The one path of every SMS that leaves: the engine's batches, the test
        SMS and the keyword answers (``_send_now``). Two transactions, none
        open during the provider call, so no lock (the gateway row, the
        traces) is held across it (docs/design.md, "Sending", 4):

        1. the reservation of the longest prefix the balance covers (a ledger
           line with a lease, the traces' claim marker, rate slots) is
           committed; ``on_short(count)`` runs before that commit when the
           balance does not cover every message (it may raise: nothing is kept);
        2. the provider is called (after the rate limit's wait);
        3. the answers are recorded (traces' states, or nothing for messages
           without trace) and the reservation settled, in the caller's
           transaction, which the caller commits.

        Refused for good (``SmsGatewayError``): the reservation is released,
        ``error`` set. Recovered (the lease expired meanwhile and a recovery
        closed it): the answer is dropped, ``recovered`` set.
        """
        count, move_id, delay = self._reserve(mailing, gateway, messages, params)
        if count < len(messages) and on_short:
            on_short(count)
        if not count:
            return Delivery(0)
        batch = messages[:count]
        reserved = round(sum(message["cost"] for message in batch), pricing.LEDGER_DIGITS)
        self._commit()  # claim marker + reservation durable, every lock released before the call
        if delay > 0:
            self._wait(delay)
        try:
            results, transient_error = self._send(gateway, batch, params, move_id=move_id)
        except SmsGatewayError as error:  # refused for good: nothing was sent, nothing is charged
            released = self._release_batch(mailing, gateway, move_id, reserved)
            return Delivery(count, move_id, error=error, released=released)
        spent, insufficient = self._record_batch(
            mailing, gateway, move_id, reserved, batch, results, transient_error, params
        )
        return Delivery(
            count, move_id, results, transient_error, spent=spent, insufficient=insufficient, recovered=spent is None
        )

    @api.model
    def _send_now(self, gateway, messages, mailing=None, on_short=None):
        """``_deliver`` messages that are no mailing's traces (a test SMS, keyword answers) at once.

        The caller's transaction is committed before the provider call (its
        work is kept whatever the call does); the settlement is left to the
        caller's commit.
        """
        params = self._get_params()
        self._get_run_prices(gateway, params)
        return self._deliver(mailing or self.env["sms.marketing.mailing"], gateway, messages, params, on_short)

    @api.model
    def _get_run_prices(self, gateway, params):
        """``gateway``'s prices, read once per run: prices change rarely, a run lasts a minute."""
        prices = params.setdefault("_prices", {}).get(gateway.id)
        if prices is None:
            prices = params["_prices"][gateway.id] = gateway._get_prices()
        return prices

    @api.model
    def _get_batch_size(self, gateway, params):
        """``batch_size``, and at most one second of the gateway's rate limit: a batch leaves at once;
        for a per-message provider, what fits its time (``_get_per_message_batch_size``)."""
        size = params["batch_size"]
        if gateway and gateway.rate_limit > 0:
            size = min(size, max(1, int(gateway.rate_limit)))
        provider = PROVIDERS.get(gateway.provider) if gateway else None
        if provider and provider.per_message:
            size = min(size, self._get_per_message_batch_size(gateway, params))
        return size

    @api.model
    def _get_per_message_batch_size(self, gateway, params):
        """How many messages of a per-message provider (one request each) one batch takes.

        A batch lasts as long as its messages one after the other (1,000 at
        200 ms: 200 s). It takes at most half the shorter of its lease and
        the run's time budget at the time per message measured in this run
        (``_note_message_time``), so that a run ends near its budget and a
        dead sender leaves few messages in limbo; the first batch of a run,
        unmeasured, is a probe of ``PROBE_BATCH_SIZE``. The heartbeat keeps the
        lease of a batch the provider slows down (``_get_lease_heartbeat``).
        """
        seconds = params.get("_message_seconds", {}).get(gateway.id)
        if not seconds:
            return PROBE_BATCH_SIZE
        window = min(self._get_lease_seconds(gateway, params), params["time_budget"]) * BATCH_TIME_SHARE
        return max(1, int(window / seconds))

    @api.model
    def _note_message_time(self, gateway, results, seconds, params):
        """Keep the time per message a per-message provider's batch took, for the next batch's size."""
        answered = sum(1 for result in results if result.get("state") != SERVER_ERROR)
        if answered:
            params.setdefault("_message_seconds", {})[gateway.id] = seconds / answered

    @api.model
    def _pause_for_credit(self, mailing, gateway):
        mailing._set_paused(
            "insufficient_credit",
            _(
                "Paused: the gateway %(gateway)s has not enough credits left. "
                "The mailing resumes by itself once credits are added.",
                gateway=gateway.name,
            ),
        )

    @api.model
    def _wait(self, seconds):
        """Pace the sender (rate limit), outside any transaction."""
        with self._outside_transaction():
            time.sleep(seconds)

    # ------------------------------------------------------------------ claim
    @api.model
    def _claim(self, mailing, params):
        """The next batch to send: ``_claim_rows``, less what the frequency cap holds back or cancels
        and what waits for its sending window.

        A batch emptied by canceling or deferring its traces is progress: the
        next batch is claimed at once. An empty answer means nothing can be sent now.
        """
        while True:
            rows = self._claim_rows(mailing, params)
            kept, canceled = self._apply_frequency_cap(mailing, rows)
            kept, held = self._apply_window(mailing, kept)
            if kept or not (canceled or held):
                return kept

    @api.model
    def _claim_rows(self, mailing, params):
        """Lock the next batch of pending traces; rows locked by other runners are skipped.

        Each runner (a cron thread, a worker) walks the mailing forward from the
        last id it claimed, from one run to the next (the index entries of rows
        already sent are not scanned again), and starts over from the beginning
        when it reaches the end (retries, skipped rows) only if the mailing's
        counters say a trace is still unclaimed: a walk from the beginning reads
        every trace already sent, a million for a million-recipient mailing.
        A runner that found nothing keeps its place: the next build window's traces
        come after it (ids grow); and it walks from the beginning only for traces the
        counters say are behind it, not for the batches other runners are claiming
        ahead of it. Runners that had caught up with the build went back to the
        beginning when the next window came, each walking the 840,000 traces sent
        before it (a 3 s stall near the end of a 1,000,000 run, docs/benchmark.md).
        Returns ``ClaimedRow`` named tuples (id, res_id, number, uuid, country_code, try_count).
        """
        after = self._get_claim_positions().get(mailing.id, 0)
        rows = self._claim_after(mailing, params, after) if after else []
        if not rows:
            behind, waiting = self._count_unclaimed_behind(mailing, after)
            if behind > 0 or waiting:
                # from the mailing's first trace, not the table's; only traces waiting for a time (retries,
                # quiet hours) left behind: the due ones, by the partial index on next_try_at
                self.env.cr.execute(
                    SQL("SELECT COALESCE(min(id), 1) - 1 FROM sms_marketing_trace WHERE mailing_id = %s", mailing.id)
                )
                rows = self._claim_after(mailing, params, self.env.cr.fetchone()[0], only_waiting=behind <= 0)
        if rows:
            # forward only: a trace claimed behind (a retry) does not send the next claims back over
            # every trace sent since
            self._set_claim_position(mailing, max(after, rows[-1].id))
        return rows

    @api.model
    def _claim_after(self, mailing, params, after, only_waiting=False):
        """Lock up to a batch of the mailing's claimable traces after the id ``after`` (``only_waiting``:
        of those waiting for a time), rows locked by other runners skipped."""
        self.env.cr.execute(
            SQL(
                """SELECT id, res_id, number, uuid, country_code, try_count FROM sms_marketing_trace
                    WHERE mailing_id = %(mailing)s AND state = 'pending' AND id > %(after)s
                      AND claim_move_id IS NULL AND (next_try_at IS NULL OR next_try_at <= %(now)s) %(waiting)s
                    ORDER BY id LIMIT %(limit)s
                      FOR NO KEY UPDATE SKIP LOCKED""",
                mailing=mailing.id,
                waiting=SQL("AND next_try_at IS NOT NULL") if only_waiting else SQL(),
                after=after,
                now=fields.Datetime.now(),
                limit=params["batch_size"],
            )
        )
        return [ClaimedRow(*row) for row in self.env.cr.fetchall()]

    @api.model
    def _count_unclaimed_behind(self, mailing, after):
        """(unclaimed traces not waiting for a time at or before the id ``after``, traces waiting for a
        time) of the mailing, when nothing was claimable after ``after`` (0: no place yet).

        The rest of what the counters count unclaimed is ahead, in batches other runners are claiming
        now (locked, not committed: skipped by the claim), which a walk from the beginning would not
        find either. One statement, so the counters and the traces after the place are read in one
        snapshot (READ COMMITTED): between two, a batch committed meanwhile would look behind, and
        send the runner over the whole mailing for nothing. The traces after the place are counted
        only when something not waiting is unclaimed."""
        queue = self.env["sms.marketing.campaign.report"]._get_queue_counts_sql(mailing.id)
        self.env.cr.execute(
            SQL(
                """SELECT q.unclaimed - q.waiting - (
                              -- q's condition first: a one-time filter, the index is not read when it fails
                              SELECT count(*) FROM sms_marketing_trace
                               WHERE q.unclaimed > q.waiting AND %(after)s > 0
                                 AND mailing_id = %(mailing)s AND id > %(after)s AND state = 'pending'
                                 AND claim_move_id IS NULL AND next_try_at IS NULL),
                          q.waiting
                     FROM (%(queue)s) q""",
                mailing=mailing.id,
                after=after,
                queue=queue,
            )
        )
        behind, waiting = self.env.cr.fetchone()
        return int(behind), int(waiting)

    @api.model
    def _get_claim_positions(self):
        """{mailing id: last trace id claimed} of this runner (this database, this thread), for the
        RUNNER_CURSOR_MAILINGS mailings it claimed from last, the latest last (``_set_claim_position``)."""
        return RUNNER_CURSORS.setdefault((self.env.cr.dbname, threading.get_ident()), {})

    @api.model
    def _set_claim_position(self, mailing, trace_id):
        """This runner's next claim in ``mailing`` starts after ``trace_id``."""
        positions = self._get_claim_positions()
        positions.pop(mailing.id, None)  # to the end: the latest mailing claimed from
        positions[mailing.id] = trace_id
        while len(positions) > RUNNER_CURSOR_MAILINGS:
            del positions[next(iter(positions))]  # the one it claimed from longest ago

    @api.model
    def _apply_frequency_cap(self, mailing, rows):
        """(rows to send, count canceled): the frequency cap checked again at claim time.

        The audience query and the INSERT only see what was sent when they ran:
        two mailings sending to the same number at once would both pass a cap
        of 1. So each claimed number takes a transaction advisory lock (the
        lock ends with the commit of the reservation, which commits the traces'
        claim markers too, and the cap counts a claimed trace as sent); a
        number another runner holds is left pending for a later claim, and a
        locked number is checked with ``_get_frequency_cap_condition`` in a
        statement run after the lock was taken, which in READ COMMITTED
        (``_commit``) sees every batch committed before. Traces over the cap
        are canceled with their reason. Mailings without a cap take no lock.
        """
        if not rows or mailing.frequency_cap_count <= 0:
            return rows, 0
        cr = self.env.cr
        numbers = sorted({row.number for row in rows if row.number})
        cr.execute(
            SQL(
                "SELECT n FROM unnest(%s::varchar[]) n WHERE pg_try_advisory_xact_lock(%s, hashtext(n))",
                numbers,
                CAP_LOCK_NAMESPACE,
            )
        )
        locked = [row[0] for row in cr.fetchall()]
        capped = set()
        if locked:
            cr.execute(
                SQL(
                    "SELECT n FROM unnest(%s::varchar[]) n WHERE %s",
                    locked,
                    mailing._get_frequency_cap_condition(SQL("n")),
                )
            )
            capped = {row[0] for row in cr.fetchall()}
        locked = set(locked)
        cancel_ids = [row.id for row in rows if row.number in capped]
        if cancel_ids:
            cr.execute(
                SQL(
                    """UPDATE sms_marketing_trace SET state = 'canceled', failure_type = 'frequency_capped',
                              failure_reason = %s, write_date = %s
                        WHERE id = ANY(%s) AND state = 'pending'""",
                    self.env["sms.marketing.trace"]._get_failure_reasons()["frequency_capped"],
                    fields.Datetime.now(),
                    cancel_ids,
                )
            )
            self.env["sms.marketing.trace"].invalidate_model(["state", "failure_type", "failure_reason"])
        kept = [row for row in rows if not row.number or (row.number in locked and row.number not in capped)]
        return kept, len(cancel_ids)

    @api.model
    def _apply_window(self, mailing, rows):
        """(rows to send, count held back): the sending window checked again at claim time.

        A trace built while its window was open may be claimed after it closed
        (a long mailing, a retry): it waits for the next opening instead.
        """
        if not rows or not mailing.quiet_hours:
            return rows, 0
        cr = self.env.cr
        ids = [row.id for row in rows]
        cr.execute(SQL("SELECT id, time_zone FROM sms_marketing_trace WHERE id = ANY(%s)", ids))
        zone_by_id = dict(cr.fetchall())
        openings = self._get_window_openings(mailing, set(zone_by_id.values()))
        held = [trace_id for trace_id in ids if zone_by_id.get(trace_id) in openings]
        if held:
            cr.execute(
                SQL(
                    """UPDATE sms_marketing_trace t SET next_try_at = v.opening, failure_type = 'quiet_hours',
                              failure_reason = %s
                         FROM unnest(%s::int[], %s::timestamp[]) AS v(id, opening)
                        WHERE t.id = v.id""",
                    self.env["sms.marketing.trace"]._get_failure_reasons()["quiet_hours"],
                    held,
                    [openings[zone_by_id[trace_id]] for trace_id in held],
                )
            )
            self.env["sms.marketing.trace"].invalidate_model(["next_try_at", "failure_type", "failure_reason"])
        held = set(held)
        return [row for row in rows if row.id not in held], len(held)

    # ------------------------------------------------------------------ prepare
    @api.model
    def _prepare(self, mailing, gateway, rows, params):
        """The messages of the claimed ``rows``: text, parts and cost, in claim order.

        Each message is the provider's input (uuid, number, content, sender,
        country_code, segments) plus what the engine keeps: trace_id, tries, cost.
        """
        if not any(row.try_count for row in rows):  # first attempt of these traces: their links are needed
            mailing._prepare_tracking()
        bodies = self._render_batch(mailing, rows)
        prices = self._get_run_prices(gateway, params)
        sender = gateway.sender or ""
        segments_by_text = {}
        messages = []
        for trace_id, _res_id, number, uuid, country, tries in rows:
            body = bodies.get(trace_id, "")
            segments = segments_by_text.get(body)
            if segments is None:
                segments = segments_by_text[body] = segment_count(body)
            messages.append(
                new_message(uuid, number, body, sender, country, prices, segments, trace_id=trace_id, tries=tries)
            )
        return messages

    @api.model
    def _render_batch(self, mailing, rows):
        """{trace id: text} of claimed ``rows``: the mailing's text, or each trace's A/B version's."""
        if not mailing.ab_testing:
            return mailing._render_messages([row.id for row in rows], [row.res_id for row in rows])
        self.env.cr.execute(
            SQL("SELECT id, variant_id FROM sms_marketing_trace WHERE id = ANY(%s)", [row.id for row in rows])
        )
        version_of = dict(self.env.cr.fetchall())
        Variant = self.env["sms.marketing.mailing.variant"]
        bodies = {}
        for variant_id in set(version_of.values()):
            group = [row for row in rows if version_of.get(row.id) == variant_id]
            text = Variant.browse(variant_id).body if variant_id else None
            bodies.update(mailing._render_messages([row.id for row in group], [row.res_id for row in group], text))
        return bodies

    # ------------------------------------------------------------------ send
    @api.model
    def _send(self, gateway, messages, params, move_id=None):
        """({uuid: result}, transient error text or None) of the provider's answer.

        A transient error (time-out, 429, 5xx) answers for the whole batch: every
        message is retried later with the same uuid; when the provider surely
        took none of them (``not_taken``), each gets a ``server_error`` result,
        else none (their outcome is unknown). SmsGatewayError (refused
        credentials) propagates: the caller pauses the mailing. A per-message
        provider's batch keeps its reservation's lease (``move_id``) while it
        is sent, and its time per message is measured.
        """
        if not messages:
            return {}, None
        self._mark_in_flight(gateway, messages, params)
        prices = self._get_run_prices(gateway, params)
        provider = PROVIDERS.get(gateway.provider)
        per_message = bool(provider and provider.per_message)
        heartbeat = self._get_lease_heartbeat(gateway, move_id, messages, params) if per_message else None
        started = time.monotonic()
        try:
            sender = gateway.with_context(sms_marketing_prices=prices, sms_marketing_heartbeat=heartbeat)
            results = sender._send_batch(messages, around_call=lambda: self._outside_transaction(sender))
        except SmsGatewayTransientError as error:
            self._note_gateway_call(gateway, str(error), params)
            if error.not_taken or per_message:  # a per-message batch raises only before its first message left
                not_taken = {"state": SERVER_ERROR, "error": str(error)}
                return {message["uuid"]: dict(not_taken, uuid=message["uuid"]) for message in messages}, str(error)
            return {}, str(error)
        except SmsGatewayError as error:
            if self._note_gateway_call(gateway, str(error), params):
                return {}, str(error)  # another gateway of the route takes these messages over
            raise
        if per_message:
            self._note_message_time(gateway, results, time.monotonic() - started, params)
        self._note_gateway_call(gateway, self._batch_failure(results), params)
        return {result["uuid"]: result for result in results}, None

    # ------------------------------------------------------------------ routing and failover
    @api.model
    def _route_batch(self, mailing, rows, params):
        """The gateway of this batch; with routes, the batch keeps only the claimed rows of one gateway.

        A mailing with its own gateway, or of a company without routes, sends
        through ``_get_gateway``. Otherwise each row's destination country
        picks a gateway (``sms.marketing.gateway.route._get_gateway``: the
        first of its route that is up); the rows of the first row's gateway
        stay in ``rows`` (changed in place), the others stay pending and the
        next claim starts again at the first of them.
        """
        params.pop("_route", None)
        Route = self.env["sms.marketing.gateway.route"]
        company = mailing.company_id or self.env.company
        if mailing.gateway_id or not rows or not Route._has_routes(company):
            return self._get_gateway(mailing)
        chains = params.setdefault("_chains", {})
        default = self._get_gateway(mailing)
        picked = {}
        for row in rows:
            code = (row.country_code or "").upper() or False
            if (company.id, code) not in chains:
                chains[company.id, code] = Route._get_chain(company, code)
            chain = chains[company.id, code]
            if code not in picked:
                picked[code] = (Route._get_gateway(company, code, chain) or default, chain)
        gateway, chain = picked[(rows[0].country_code or "").upper() or False]
        kept = [row for row in rows if picked[(row.country_code or "").upper() or False][0] == gateway]
        dropped = [row.id for row in rows if picked[(row.country_code or "").upper() or False][0] != gateway]
        if dropped:  # the runner's next claim starts at them
            self._set_claim_position(mailing, min(dropped) - 1)
        rows[:] = kept
        self.env.cr.execute(
            SQL(
                "UPDATE sms_marketing_trace SET gateway_id = %s WHERE id = ANY(%s) AND gateway_id IS DISTINCT FROM %s",
                gateway.id,
                [row.id for row in kept],
                gateway.id,
            )
        )
        params["_route"] = {"mailing": mailing, "next": chain.filtered(lambda g: g != gateway)[:1]}
        return gateway.sudo()

    @api.model
    def _batch_failure(self, results):
        """The error of a batch the gateway answered without taking any message (None otherwise)."""
        states = {result.get("state") for result in results}
        if results and states <= {SERVER_ERROR, "unknown"}:
            return _("The gateway took none of the messages.")
        return None

    @api.model
    def _note_gateway_call(self, gateway, error, params):
        """Count the gateway's consecutive failures; True when its route has another gateway to take over.

        When the count reaches the gateway's ``failover_threshold``, the
        mailing being sent says where its messages go now.
        """
        count = gateway._note_call(bool(error))
        route = params.get("_route")
        if not error or not route or not route["next"]:
            return False
        if count == gateway.failover_threshold:
            route["mailing"]._message_log(
                body=_(
                    "The gateway %(gateway)s failed %(count)s times in a row (%(error)s): its messages go through "
                    "%(next)s until it answers again.",
                    gateway=gateway.name,
                    count=count,
                    error=error,
                    next=route["next"].name,
                )
            )
        return True
