"""A record's way through a journey, and the runner that moves every participant on, set-wise.

What: one participant per record and entry (``state`` running, done or
exited), at one step (``step_id``) until ``next_action_at``.

How: ``_run_journey`` (the journey cron, one transaction per journey under a
transaction advisory lock: one runner at a time per journey, the others skip
it) enters the new records, lets the opted-out and blacklisted leave, then
applies each step to the participants due at it with one conditional
``UPDATE ... WHERE step_id = <step> AND state = 'running' AND next_action_at
<= now`` per outcome (no loop over participants in Python). A Send SMS step
first inserts its mailing's traces for them with the engine's own INSERT
(``sms.marketing.engine._insert_traces``: invalid, blacklisted, opted-out,
frequency-capped and duplicate numbers canceled with their reason, time zones,
the sending window), then reopens that mailing for the engine. The steps are
applied parents first, so a participant goes through every step that has no
delay in the same run.

Invariants: the INSERT's ``ON CONFLICT (mailing_id, res_id) DO NOTHING`` and
the move's conditional UPDATE, in the transaction that commits both, make a
participant get each Send step once, whatever runs at once or dies when.
Caveats: Add to / Remove from list go through the subscriptions' ORM (their
consent is logged there), in one create/unlink per step and run.
"""

import pytz

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

# Namespace of the per-journey advisory lock of the runner ("SMJ").
JOURNEY_LOCK_NAMESPACE = 0x534D4A
# A trace canceled for one of these reasons: its participant leaves the journey.
EXIT_FAILURES = ("blacklisted", "opted_out")
# a Send step's mailing takes no new participants beyond this many traces: the step starts a new one
STEP_MAILING_MAX_TRACES = 10000
# the first window of a large step's traces (see _send_step)
FIRST_WINDOW = 2000
# fewer rows added by a run never re-analyze a table (see _analyze_if_grown)
ANALYZE_MIN_ROWS = 1000


class SmsMarketingJourneyParticipant(models.Model):
    _name = "sms.marketing.journey.participant"
    _description = "SMS Journey Participant"
    _order = "id desc"
    _rec_name = "res_name"

    journey_id = fields.Many2one("sms.marketing.journey", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="journey_id.company_id", store=True)
    res_model = fields.Char(string="Model", required=True)
    res_id = fields.Integer(string="Record ID", required=True)
    res_name = fields.Char(string="Record", compute="_compute_res_name")
    step_id = fields.Many2one("sms.marketing.journey.step", string="Current Step", ondelete="set null", index=True)
    # one participant's state, in words of its own: "Finished" and "Left" are the journey's counts and
    # filters, plural in most languages ("Terminés", "Sortis" on a single row)
    state = fields.Selection(
        [("running", "In Progress"), ("done", "Completed"), ("exited", "Exited")], default="running", required=True
    )
    exit_reason = fields.Selection(
        [("opted_out", "Opted out"), ("blacklisted", "Blacklisted"), ("audience", "Left the Audience")],
        readonly=True,
    )
    entered_at = fields.Datetime(string="Entered On", readonly=True)
    step_entered_at = fields.Datetime(string="At the Step Since", readonly=True)
    next_action_at = fields.Datetime(string="Next Action", readonly=True)
    # indexed: deleting a mailing empties this reference for each of its traces (a scan of the participants per
    # trace without it: 244 s for a mailing of 100,000 beside 20,000 participants, docs/benchmark.md)
    last_trace_id = fields.Many2one(
        "sms.marketing.trace", string="Last SMS", readonly=True, ondelete="set null", index="btree_not_null"
    )

    def init(self):
        # a record is in a journey once at a time; the runner's due look-up
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS sms_marketing_journey_participant_running_uniq
                   ON sms_marketing_journey_participant (journey_id, res_id) WHERE state = 'running';
               CREATE INDEX IF NOT EXISTS sms_marketing_journey_participant_due_idx
                   ON sms_marketing_journey_participant (step_id, next_action_at) WHERE state = 'running';
               CREATE INDEX IF NOT EXISTS sms_marketing_journey_participant_res_idx
                   ON sms_marketing_journey_participant (journey_id, res_id)"""
        )

    def _compute_res_name(self):
        """The record's name when the user may read it, else its id."""
        names = {}
        for model in set(self.mapped("res_model")):
            if model not in self.env:
                continue
            records = self.env[model].browse(self.filtered(lambda p, m=model: p.res_model == m).mapped("res_id"))
            if not records.check_access_rights("read", raise_exception=False):
                continue
            for record in records.exists()._filter_access_rules("read"):
                names[(model, record.id)] = record.display_name
        for participant in self:
            participant.res_name = names.get((participant.res_model, participant.res_id)) or f"#{participant.res_id}"

    # ------------------------------------------------------------------ runner
    @api.model
    def _run_journey(self, journey):
        """Enter, let leave, apply every due step; False if another runner holds the journey."""
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s, %s)", JOURNEY_LOCK_NAMESPACE, journey.id))
        if not cr.fetchone()[0]:
            return False
        cr.execute(SQL("SELECT state FROM sms_marketing_journey WHERE id = %s", journey.id))
        if (cr.fetchone() or [None])[0] != "running":  # stopped since the search, by a committed transaction
            return False
        try:
            # the filter is checked again with the starter's rights of today (a field since restricted)
            self.env["sms.marketing.audience"]._parse_filter(journey._get_audience_mailing())
        except ValidationError as error:
            journey.write({"state": "stopped"})
            journey._message_log(body=error.args[0])
            return False
        if journey.trigger != "manual":
            self._analyze_if_grown("sms_marketing_journey_participant", journey._enter())
        self._exit_opted_out(journey)
        steps = journey.step_ids.sorted(lambda step: (step.parent_path or "", step.sequence, step.id))
        for _pass in range(len(steps) + 1):  # a tree: one pass goes down every step without delay
            if not sum(self._advance(step) for step in steps):
                break
        self._trigger_next(journey)
        return True

    @api.model
    def _due(self, step):
        return SQL("p.step_id = %s AND p.state = 'running' AND p.next_action_at <= %s", step.id, fields.Datetime.now())

    @api.model
    def _advance(self, step):
        """Apply ``step`` to its due participants and move them on; returns how many moved."""
        due = self._due(step)
        if step.step_type == "send":
            self._send_step(step, due)
        elif step.step_type in ("add_list", "remove_list"):
            self._list_step(step, due)
        if step.step_type == "end":
            return self._move(step, due, None)
        nexts = step._get_next_steps()
        if step.step_type == "branch":
            condition = self._get_branch_condition(step)
            moved = self._move(step, SQL("%s AND (%s)", due, condition), nexts["yes"])
            return moved + self._move(step, SQL("%s AND NOT (%s)", due, condition), nexts["no"])
        return self._move(step, due, nexts[None])

    @api.model
    def _move(self, step, where, target):
        """Participants of ``where`` leave ``step`` for ``target`` (arriving there now), or finish."""
        now = fields.Datetime.now()
        if target:
            sets = SQL(
                "step_id = %s, step_entered_at = %s, next_action_at = %s, write_date = %s",
                target.id,
                now,
                self._get_arrival_sql(target),
                now,
            )
        else:
            sets = SQL("state = 'done', next_action_at = NULL, write_date = %s", now)
        self.env.cr.execute(SQL("UPDATE sms_marketing_journey_participant p SET %s WHERE %s", sets, where))
        return self.env.cr.rowcount

    @api.model
    def _arrive(self, step, where):
        """The participants of ``where`` are at ``step`` from now: their next action's time."""
        self.env.cr.execute(
            SQL(
                "UPDATE sms_marketing_journey_participant p SET next_action_at = %s WHERE %s",
                self._get_arrival_sql(step),
                where,
            )
        )

    @api.model
    def _get_arrival_sql(self, step):
        """SQL over ``p``: when a participant arriving now at ``step`` is due there."""
        now = fields.Datetime.now()
        if step.step_type != "wait" or step.wait_type != "time_of_day":
            return SQL("%s::timestamp", now + step._get_delay())
        # the next wait_hour o'clock in the record's zone (a stored tz that is a zone), else the company's
        journey = step.journey_id
        Model = self.env[journey.recipient_model]
        fallback = journey.company_id.partner_id.tz or journey.user_id.tz or "UTC"
        tz_field = Model._fields.get("tz")
        record_tz = SQL("NULL::varchar")
        if tz_field and tz_field.store and tz_field.type in ("char", "selection"):
            record_tz = SQL("(SELECT rec.tz FROM %s rec WHERE rec.id = p.res_id)", SQL.identifier(Model._table))
        zone = SQL(
            "CASE WHEN %s = ANY(%s) THEN %s ELSE %s END", record_tz, list(pytz.all_timezones), record_tz, fallback
        )
        local_now = SQL("((%s::timestamp AT TIME ZONE 'UTC') AT TIME ZONE %s)", now, zone)
        target = SQL("(date_trunc('day', %s) + make_interval(secs => %s))", local_now, step.wait_hour * 3600)
        return SQL(
            "((CASE WHEN %s > %s THEN %s ELSE %s + interval '1 day' END) AT TIME ZONE %s) AT TIME ZONE 'UTC'",
            target,
            local_now,
            target,
            target,
            zone,
        )

    # ------------------------------------------------------------------ steps
    @api.model
    def _send_step(self, step, due):
        """The due participants' SMS: traces of the step's mailing, inserted as the engine inserts a
        mailing's; those whose number is blacklisted or opted out leave; the engine sends the rest."""
        cr = self.env.cr
        due_records = SQL("SELECT p.res_id FROM sms_marketing_journey_participant p WHERE %s", due)
        cr.execute(SQL("SELECT EXISTS (%s)", due_records))
        if not cr.fetchone()[0]:
            return
        mailing = step._ensure_mailing()
        self.env.flush_all()
        cr.execute(
            SQL(
                """SELECT EXISTS (SELECT 1 FROM sms_marketing_trace
                                   WHERE mailing_id = %(mailing)s AND res_id IN (%(due)s))
                       OR (SELECT count(*) FROM (SELECT 1 FROM sms_marketing_trace WHERE mailing_id = %(mailing)s
                                                  LIMIT %(max)s) full_) >= %(max)s""",
                mailing=mailing.id,
                due=due_records,
                max=STEP_MAILING_MAX_TRACES,
            )
        )
        # a record entering again (its step's SMS goes in a new mailing), or a mailing grown so large that
        # the INSERT's duplicate check (one look at the mailing's traces per new row) would slow every run
        if cr.fetchone()[0]:
            mailing = step._ensure_mailing(renew=True)
            self.env.flush_all()
        recipients = SQL(
            "SELECT q.* FROM (%s) q WHERE q.res_id IN (%s)",
            self.env["sms.marketing.audience"].sudo()._get_recipients_query(mailing.sudo()),
            due_records,
        )
        Engine = self.env["sms.marketing.engine"]
        # As the engine's build: a small first window, then the trace table analyzed, then the rest. The
        # INSERT's duplicate check looks up each number among the mailing's traces; planned for a mailing
        # that has none, it walks the mailing's index, growing as the statement inserts (minutes at 10,000).
        cr.execute(
            SQL(
                "SELECT p.res_id FROM sms_marketing_journey_participant p WHERE %s ORDER BY p.res_id "
                "OFFSET %s LIMIT 1",
                due,
                FIRST_WINDOW - 1,
            )
        )
        split = cr.fetchone()
        if split:
            Engine._insert_traces(mailing, 0, split[0], recipients)
            cr.execute("ANALYZE sms_marketing_trace")
        inserted = Engine._insert_traces(mailing, split[0] + 1 if split else 0, 2**31 - 1, recipients)
        self._analyze_if_grown("sms_marketing_trace", inserted)
        # no trace (out of the audience now) or canceled for a STOP: the participant leaves
        cr.execute(
            SQL(
                """UPDATE sms_marketing_journey_participant p
                      SET state = 'exited', next_action_at = NULL, write_date = %(now)s,
                          exit_reason = COALESCE(
                              (SELECT t.failure_type FROM sms_marketing_trace t
                                WHERE t.mailing_id = %(mailing)s AND t.res_id = p.res_id), 'audience')
                    WHERE %(due)s AND NOT EXISTS (
                          SELECT 1 FROM sms_marketing_trace t
                           WHERE t.mailing_id = %(mailing)s AND t.res_id = p.res_id
                             AND (t.failure_type IS NULL OR t.failure_type NOT IN %(exits)s))""",
                now=fields.Datetime.now(),
                mailing=mailing.id,
                due=due,
                exits=EXIT_FAILURES,
            )
        )
        cr.execute(
            SQL(
                """UPDATE sms_marketing_journey_participant p SET last_trace_id = t.id
                     FROM sms_marketing_trace t WHERE t.mailing_id = %s AND t.res_id = p.res_id AND %s""",
                mailing.id,
                due,
            )
        )
        mailing.sudo()._set_sending(from_state="done")  # a sent mailing has new messages to send
        mailing._trigger_queue()

    @api.model
    def _list_step(self, step, due):
        """Add the due contacts to the step's list, or remove them (the subscriptions' ORM logs consent)."""
        self.env.cr.execute(SQL("SELECT p.res_id FROM sms_marketing_journey_participant p WHERE %s", due))
        contact_ids = [row[0] for row in self.env.cr.fetchall()]
        if not contact_ids:
            return
        Subscription = self.env["sms.marketing.subscription"].sudo()  # sudo: the journey's system step
        existing = Subscription.search([("list_id", "=", step.list_id.id), ("contact_id", "in", contact_ids)])
        if step.step_type == "remove_list":
            existing.unlink()
            return
        present = set(existing.contact_id.ids)
        Subscription.create(
            [{"list_id": step.list_id.id, "contact_id": cid} for cid in contact_ids if cid not in present]
        )

    @api.model
    def _get_branch_condition(self, step):
        """SQL over ``p``: the participant meets the Branch ``step``'s condition."""
        # a click by the end of the branch's time (``next_action_at``): a run that comes late does not count
        # later clicks, as for replies
        clicked = SQL(
            """EXISTS (SELECT 1 FROM sms_marketing_link_click c
                        WHERE c.trace_id = p.last_trace_id AND c.click_date <= p.next_action_at)"""
        )
        if step.branch_condition == "clicked":
            return clicked
        if step.branch_condition == "not_clicked":
            return SQL("NOT %s", clicked)
        if step.branch_condition in ("replied", "not_replied"):
            # An SMS from the participant's number (keywords aside) to the company of its last SMS, from
            # that SMS's sending to the end of the branch's time (``next_action_at``: a run that comes late
            # does not count later replies). Not the reply's mailing (``mailing_id``): that is the mailing
            # last sent to the number within the company's reply window, none when the window is 0, and
            # another SMS sent to the number meanwhile would take the reply from the step.
            # The conversation's unique (number, company) and its thread index (conversation, date) serve it.
            replied = SQL(
                """EXISTS (SELECT 1 FROM sms_marketing_trace t
                             JOIN sms_marketing_mailing m ON m.id = t.mailing_id
                             JOIN sms_marketing_conversation c
                               ON c.number = t.number AND c.company_id = m.company_id
                             JOIN sms_marketing_conversation_message cm ON cm.conversation_id = c.id
                            WHERE t.id = p.last_trace_id AND cm.direction = 'in' AND NOT cm.is_keyword
                              AND cm.date >= t.sent_at AND cm.date <= p.next_action_at)"""
            )
            return replied if step.branch_condition == "replied" else SQL("NOT %s", replied)
        if step.branch_condition in ("delivered", "failed"):
            states = ["delivered"] if step.branch_condition == "delivered" else ["failed", "canceled"]
            return SQL(
                "EXISTS (SELECT 1 FROM sms_marketing_trace t WHERE t.id = p.last_trace_id AND t.state = ANY(%s))",
                states,
            )
        # a filter of the record, searched with the rights of the journey's sender
        journey = step.journey_id
        audience_env = self.env["sms.marketing.audience"]._get_env(journey._get_audience_mailing())
        query = audience_env[journey.recipient_model]._search(step._get_branch_domain())
        return SQL("p.res_id IN (%s)", query.subselect())

    @api.model
    def _exit_opted_out(self, journey):
        """Running participants whose number is blacklisted, or opted out of the journey's lists, leave."""
        recipients = self.env["sms.marketing.audience"]._get_recipients_query(journey._get_audience_mailing())
        self.env.cr.execute(
            SQL(
                """UPDATE sms_marketing_journey_participant p
                      SET state = 'exited', next_action_at = NULL, write_date = %(now)s,
                          exit_reason = CASE WHEN a.blacklisted THEN 'blacklisted' ELSE 'opted_out' END
                     FROM (SELECT r.res_id, r.opted_out,
                                  EXISTS (SELECT 1 FROM sms_marketing_blacklist bl
                                           WHERE bl.number = r.number AND bl.active) AS blacklisted
                             FROM (%(recipients)s) r) a
                    WHERE p.journey_id = %(journey)s AND p.state = 'running' AND p.res_id = a.res_id
                      AND (a.opted_out OR a.blacklisted)""",
                now=fields.Datetime.now(),
                recipients=recipients,
                journey=journey.id,
            )
        )

    @api.model
    def _analyze_if_grown(self, table, rows):
        """ANALYZE ``table`` after this run added a tenth of it or more (1,000 rows at least): the
        statements that follow join the new rows, and with statistics from before them PostgreSQL
        plans one scan of the table per participant (10,000 participants took minutes)."""
        if rows < ANALYZE_MIN_ROWS:
            return
        self.env.cr.execute(SQL("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", table))
        known = self.env.cr.fetchone()[0]
        if known < 0 or rows >= 0.1 * known:  # -1: never analyzed
            self.env.cr.execute(SQL("ANALYZE %s", SQL.identifier(table)))

    @api.model
    def _trigger_next(self, journey):
        """Wake the journey cron when its next participant is due."""
        self.env.cr.execute(
            SQL(
                """SELECT min(next_action_at) FROM sms_marketing_journey_participant
                    WHERE journey_id = %s AND state = 'running' AND next_action_at > %s""",
                journey.id,
                fields.Datetime.now(),
            )
        )
        at = self.env.cr.fetchone()[0]
        if at:
            journey._trigger_cron(at)

    @api.model
    def _reopen_step_mailings(self):
        """A step mailing the engine finished while the journey was adding messages to it sends again."""
        self.env.cr.execute(
            SQL(
                """SELECT m.id FROM sms_marketing_mailing m
                    WHERE m.journey_step_id IS NOT NULL AND m.state = 'done' AND NOT %s""",
                # the counters: a look for pending traces was a read of the whole trace table
                self.env["sms.marketing.campaign.report"]._get_nothing_pending_condition(SQL("m.id")),
            )
        )
        mailings = self.env["sms.marketing.mailing"].browse([row[0] for row in self.env.cr.fetchall()])
        if mailings:
            mailings._set_sending(from_state="done")
            mailings._trigger_queue()
