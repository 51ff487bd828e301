"""The mailing's state machine: the one writer of ``sms.marketing.mailing.state``.

What: every change of a mailing's state is one method here (``_set_scheduled``,
``_set_sending``, ``_set_testing``, ``_set_done``, ``_set_paused``,
``_set_canceled``, ``_set_draft``, and the A/B test's ``_start_rest``), which sets the fields that go with the
new state and announces it. The user's actions and the sending engine ask for
a transition; they never write ``state``.

How: one conditional ``UPDATE ... WHERE id = ANY(...) AND state = ANY(<from>)
RETURNING id`` (``_change_state``). Several sender crons run at once: when two
of them (or a marketer and a cron) ask for the same transition, the second
UPDATE waits for the first one's row lock and, in READ COMMITTED (the engine's
transactions, ``sms.marketing.engine._commit``), finds the state already
changed: the transition happens, and is announced, once. Only the mailings
the UPDATE returns get the chatter message and the tracking line.

Invariants: no other code writes ``state`` (tests and demo data set up states
directly); a transition from a state the mailing is no longer in is a no-op.
"""

from odoo import _lt, fields, models
from odoo.tools import SQL

# What a mailing's state may be when each transition is asked for.
SCHEDULABLE_STATES = ("draft", "scheduled")
CANCELABLE_STATES = ("draft", "scheduled", "sending", "paused", "testing")
DRAFTABLE_STATES = ("scheduled", "canceled")
# An A/B test whose test share is still to be decided (SQL over the mailing's row ``m``).
AB_TEST_UNDECIDED = SQL("m.ab_testing AND m.ab_winner_variant_id IS NULL")


class SmsMarketingMailing(models.Model):
    _inherit = "sms.marketing.mailing"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------ transitions
    def _get_chatter_lang(self):
        """The language of what the sending posts on the mailing: its Responsible's (the engine runs as
        superuser, whose language is nobody's; a chatter line is written once for all its readers)."""
        self.ensure_one()
        return self._get_responsible_lang() or self.env.lang

    def _get_responsible_lang(self):
        """The language of the mailing's Responsible (None without one).

        Read in one query: ``res.users.lang`` is a related field of the
        partner, and reading it through the ORM fetched every column of the
        user and of the partner, once per batch sent (the cache ends with each
        batch's commit): 7% of the sender crons' Python time.
        """
        self.ensure_one()
        if not self.user_id:
            return None
        self.env["res.partner"].flush_model(["lang"])
        self.env.cr.execute(
            SQL(
                """SELECT p.lang FROM res_users u JOIN res_partner p ON p.id = u.partner_id WHERE u.id = %s""",
                self.user_id.id,
            )
        )
        row = self.env.cr.fetchone()
        return row[0] if row else None

    def _get_team_lang(self, company):
        """The installed language of what is written once for the mailing's team (a test SMS's opt-out
        page, a reply's note): the mailing's Responsible's, else ``company``'s (the mailing's when it has
        one), else None. ``self`` may be empty: the company's alone."""
        company = self.company_id or company
        for lang in (self._get_responsible_lang() if self else None, company.partner_id.lang):
            if lang and self.env["res.lang"]._lang_get(lang):
                return lang
        return None

    def _log_in_chatter_lang(self, message):
        """Log ``message`` (an ``_lt``) on each mailing in its ``_get_chatter_lang``."""
        for mailing in self:
            context = {"lang": mailing._get_chatter_lang()}  # noqa: F841 -- read by str() of an _lt, Odoo's way
            mailing._message_log(body=str(message))

    def _set_scheduled(self, values):
        """draft or scheduled -> scheduled, with ``values`` (``schedule_type``, ``schedule_date``);
        the current user becomes the sender. Returns the mailings scheduled."""
        scheduled = self._change_state(SCHEDULABLE_STATES, "scheduled", values, track=True)
        if scheduled:
            scheduled.write(scheduled._get_sender_values())
        return scheduled

    def _set_sending(self, from_state="scheduled", pause_code=None):
        """-> sending: started (from ``scheduled``, with the line that says whose rights chose the
        recipients), resumed (from ``paused``; with ``pause_code``, only the mailings paused for
        it), or reopened (from ``done``: some messages are to be sent again). The pause is cleared.
        Returns the mailings that moved."""
        where = SQL("m.pause_code = %s", pause_code) if pause_code else None
        values = {"pause_reason": None, "pause_code": None}
        # tracked as the ORM writes of the start and the resume were; a reopening is the engine's
        started = self._change_state((from_state,), "sending", values, where, track=from_state != "done")
        if from_state == "scheduled":
            for mailing in started:
                mailing = mailing.with_context(lang=mailing._get_chatter_lang())
                mailing._message_log(body=mailing._get_audience_log())
        return started

    def _set_testing(self, where=None):
        """sending -> testing: an A/B test's test share is sent (``where``: the caller's condition
        that it is), its winner goes to the rest next. Returns the mailings that moved."""
        condition = SQL("%s AND %s", AB_TEST_UNDECIDED, where) if where else AB_TEST_UNDECIDED
        now = fields.Datetime.now()
        testing = self._change_state(("sending",), "testing", {"sent_date": None, "ab_test_sent_at": now}, condition)
        testing._log_in_chatter_lang(_lt("The test share has been sent: the winner goes to the rest next."))
        return testing

    def _set_done(self, where=None):
        """sending -> done (not an undecided A/B test's share: ``_set_testing``), when ``where``
        holds. Returns the mailings that moved."""
        condition = SQL("(%s) IS NOT TRUE", AB_TEST_UNDECIDED)
        if where:
            condition = SQL("%s AND %s", condition, where)
        done = self._change_state(("sending",), "done", {"sent_date": fields.Datetime.now()}, condition)
        done._log_in_chatter_lang(_lt("The mailing has been sent."))
        return done

    def _set_paused(self, code, reason):
        """sending -> paused for ``code`` (a ``pause_code``), ``reason`` shown on the mailing and logged."""
        paused = self._change_state(("sending",), "paused", {"pause_code": code, "pause_reason": reason})
        for mailing in paused:
            mailing._message_log(body=reason)
        return paused

    def _set_canceled(self):
        """-> canceled from any state but done: nothing more is sent (the queue closes its pending traces)."""
        return self._change_state(CANCELABLE_STATES, "canceled", track=True)

    def _start_rest(self, winner):
        """testing -> sending ``winner`` to the rest of the audience (the build starts again from the
        first record): True if this call did it, once per mailing, whoever calls first (the marketer
        or the queue's deadline)."""
        self.ensure_one()
        values = {"ab_winner_variant_id": winner.id, "trace_build_done": False, "trace_build_cursor": 0}
        if not self._change_state(("testing",), "sending", values, SQL("m.ab_winner_variant_id IS NULL")):
            return False
        self._log_in_chatter_lang(
            _lt("%(version)s won the A/B test: it is being sent to the rest of the audience.", version=winner.name)
        )
        self._trigger_queue()
        return True

    def _set_draft(self):
        """scheduled or canceled -> draft; the sender is forgotten (whoever sends next is)."""
        drafts = self._change_state(DRAFTABLE_STATES, "draft", track=True)
        if drafts:
            drafts.write({"sender_id": False, "sender_company_ids": [fields.Command.clear()]})
        return drafts

    # ------------------------------------------------------------------ the one writer
    def _change_state(self, from_states, to_state, values=None, where=None, track=False):
        """Move the mailings of ``self`` that are in ``from_states`` (and meet ``where``, SQL over
        their row ``m``) to ``to_state`` with ``values`` (column: value or SQL), in one conditional
        UPDATE; returns the mailings it moved.

        ``track``: the change is tracked in the chatter as an ORM write would (the user's actions,
        the start and the resume); the engine's other transitions post their own message.
        """
        if not self:
            return self
        if not self.env.su:  # as the ORM write it replaces
            self.check_access_rights("write")
            self.check_access_rule("write")
        values = dict(values or {})
        self.env.flush_all()
        tracked = sorted(self._track_get_fields() & {"state", *values}) if track else []
        if tracked:
            self.fetch(tracked)  # the values before the change, in cache for the tracking below
        now = fields.Datetime.now()
        sets = [SQL("state = %s", to_state), SQL("write_date = %s", now), SQL("write_uid = %s", self.env.uid)]
        sets += [SQL("%s = %s", SQL.identifier(fname), value) for fname, value in values.items()]
        self.env.cr.execute(
            SQL(
                """UPDATE sms_marketing_mailing m SET %(sets)s
                    WHERE m.id = ANY(%(ids)s) AND m.state = ANY(%(from_states)s) AND %(where)s
                RETURNING m.id""",
                sets=SQL(", ").join(sets),
                ids=self.ids,
                from_states=list(from_states),
                where=where or SQL("TRUE"),
            )
        )
        moved = self.browse([row[0] for row in self.env.cr.fetchall()])
        if tracked:
            moved._track_prepare(tracked)  # reads the cached values from before the UPDATE
        fnames = ["state", "write_date", "write_uid", *values]
        self.invalidate_recordset(fnames)
        moved.modified(fnames)
        return moved
