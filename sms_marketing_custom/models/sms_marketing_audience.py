"""A mailing's audience: who receives it, and why each other record does not.

What: the one definition of the recipients of a mailing, asked by the form
(counts, preview recipient, estimate), Send's checks, the test SMS's sample
recipients, the statistics, the demo and the engine's trace build (which
inserts, window after window, exactly the rows this model answers).

How: SQL built in four layers, each on the one before, all set-wise:

1. ``_get_recipients_query``: the records chosen (lists or the filter), searched
   with the sender's rights (``_get_env``), with their number;
2. ``_get_flagged_query``: plus ``blacklisted``, ``capped`` (frequency cap) and
   ``eligible`` (someone to send to, before duplicates);
3. ``_get_classified_query``: plus ``reason``, one of ``REASONS`` in their order
   of precedence, NULL for the rows to send to;
4. ``_get_trace_rows_query``: a build window of (3) with each row's A/B version.

A ``window`` (lo, hi) of ``res_id`` narrows (1) before anything is ranked, so
that a window costs its own rows only; the numbers given a trace by an earlier
window of the same mailing are then duplicates too.

Invariant: a reason is the ``failure_type`` of the canceled trace the engine
inserts for the row (``sms.marketing.trace``'s ``FAILURE_TYPES``): one name
from the form's count to the trace, and a sent mailing's audience is read back
from its traces (``_get_sent_classified_query``) by the same names.
"""

import psycopg2

from odoo import _, api, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

# AUDIENCE_JOURNEY_KEY: the journey record itself (never an id, which a client could send)
from .sms_marketing_mailing import AUDIENCE_JOURNEY_KEY, FILTER_ERRORS
from .sms_marketing_recipient_model import CONTACT_MODEL
from .sms_marketing_trace import mailing_being_built_sql

# Why a record of the audience receives nothing, in order of precedence (the first that holds is the reason).
REASONS = ("invalid_number", "blacklisted", "opted_out", "frequency_capped", "duplicate")
# The statistics of an audience (``_get_statistics``): counts named as the mailing's audience fields.
STATISTICS_KEYS = (
    "total",
    "valid",
    "invalid",
    "blacklisted",
    "opted_out",
    "frequency_capped",
    "duplicates",
    "to_send",
)
# Above this many recipients (ir.config_parameter sms_marketing_custom.send_check_full_limit),
# Send checks the audience cheaply (``_has_recipients``, the mailing's ``_check_credits_quick``): the full
# classification and price by country take too long for a click.
SEND_CHECK_FULL_LIMIT = 50000
# Who sends (the audience is what this user may read), and what the audience is made of.
SENDER_FIELDS = ("sender_id", "sender_company_ids")


def is_stored_audience(record, stored):
    """True when ``record`` (a mailing or a journey, in a form or in memory) selects the audience that ``stored``
    (a saved one) holds: the same model, lists and filter."""
    return (
        record.recipient_model_id._origin == stored.recipient_model_id
        and set(record.list_ids._origin.ids) == set(stored.list_ids.ids)
        and (record.domain or "[]") == (stored.domain or "[]")
    )


def audience_model_of(mailing):
    """The model the audience of ``mailing`` is searched in, from the database (its ``recipient_model_id``), or
    False. Never ``recipient_model`` nor ``is_list_mailing``: computed fields without inverse, which a client
    can fill in a form's record and even on a saved one (``write`` puts them in the cache), while the stored
    sender's rights are used."""
    return mailing.recipient_model_id._origin.sudo().model or False  # sudo: the name of a model, no record


def without_default_sender(defaults):
    """``defaults`` without a sender: a ``default_sender_id`` in the context (which the client sends) names
    nobody's rights, in a new record's form or at its creation."""
    return {name: value for name, value in defaults.items() if name not in SENDER_FIELDS}


class SmsMarketingAudience(models.AbstractModel):
    _name = "sms.marketing.audience"
    _description = "SMS Mailing Audience"

    # ------------------------------------------------------------------ whose rights, which filter
    @api.model
    def _get_env(self, mailing):
        """The environment the audience is selected in: the sender's rights, record rules and companies.

        Before Send, the sender is the current user (the form shows what they
        would send); once sent or scheduled, the user who did it, within the
        companies they worked in then and still belong to. Never superuser: the
        engine runs as superuser, the audience must not.
        """
        mailing.ensure_one()
        stored = self._get_stored_sender_of(mailing)
        user = stored.sender_id or self.env.user
        companies = (stored.sender_company_ids if stored else self.env.companies) & user.company_ids
        company_ids = companies.ids or user.company_id.ids
        return self.env(user=user.id, su=False, context=dict(self.env.context, allowed_company_ids=company_ids))

    @api.model
    def _is_list_audience(self, mailing):
        """True when ``mailing``'s audience is mailing-list contacts (through its lists), from the database."""
        return audience_model_of(mailing) in (False, CONTACT_MODEL)

    @api.model
    def _get_stored_sender_of(self, mailing):
        """The saved mailing or journey whose sender's rights select ``mailing``'s audience, or nothing (the
        current user's rights).

        Only the database names a sender, and only for the audience saved with it. A record computed for a
        form holds whatever the client sent, read-only fields included (an ``onchange``'s values, a record
        nested in a many2one value): its own ``sender_id`` is never read. A mailing counts with the sender
        of the mailing it was read from (``_origin``), a journey's in-memory mailing with its journey's
        (``_get_audience_mailing`` puts the journey record in its context); an audience edited in the form
        (model, lists, filter) counts with the rights of who edits it, as saving it makes them the sender.
        """
        journey = mailing.env.context.get(AUDIENCE_JOURNEY_KEY)
        if not (isinstance(journey, models.BaseModel) and journey._name == "sms.marketing.journey"):
            journey = None  # a client sends JSON: it cannot put a record in the context
        stored = (journey or mailing)._origin
        if stored and stored.sender_id and is_stored_audience(mailing, stored):
            return stored
        return stored.browse()

    @api.model
    def _get_filter(self, mailing):
        """The mailing's filter (``domain``) as a list, read as data; ``uid`` and ``user`` mean the sender."""
        mailing.ensure_one()
        return self.env["sms.marketing.recipient.model"]._read_filter(mailing.domain, self._get_env(mailing).user)

    @api.model
    def _parse_filter(self, mailing):
        """The recipient filter as a list, checked against the model and the sender's field access,
        or a ValidationError a marketer can read."""
        mailing.ensure_one()
        domain = self._get_filter(mailing)
        if model_name := audience_model_of(mailing):
            Model = self._get_env(mailing)[model_name]
            self._check_filter_field_access(Model, domain)
            try:
                # validates field names and operators against the model ...
                Model.sudo()._where_calc(domain)
                # ... and values: one PostgreSQL refuses ("abc" for a number, a date that
                # is none) is only seen when the query runs
                with self.env.cr.savepoint(flush=False):
                    Model.sudo().search_count(domain, limit=1)
            except (ValueError, KeyError, TypeError, IndexError, AssertionError, NotImplementedError) as error:
                raise ValidationError(_("The recipient filter is not valid: %(error)s", error=error)) from error
            except psycopg2.Error as error:
                raise ValidationError(
                    _(
                        "The recipient filter is not valid: a value does not fit its field (%(error)s).",
                        error=error.diag.message_primary or error.pgcode,
                    )
                ) from error
        return list(domain)

    @api.model
    def _check_filter_field_access(self, Model, domain):
        """Refuse a filter on a field the user may not read, as the web client hides it from them.

        Odoo 17's search does not check field groups, so a filter such as
        ``[('salary', '>', 5000)]`` would answer questions about a field its
        user cannot see: every field of every path is checked here.
        """
        for leaf in domain:
            if not isinstance(leaf, list | tuple) or len(leaf) != 3 or not isinstance(leaf[0], str):
                continue
            current = Model
            for name in leaf[0].split("."):
                field = current._fields.get(name)
                if field is None:
                    break  # an unknown field is refused by the filter check itself, with its own message
                if field.groups and not current.env.su and not current.user_has_groups(field.groups):
                    raise ValidationError(
                        _(
                            "The recipient filter uses the field “%(field)s” of %(model)s, which you are not "
                            "allowed to read.",
                            field=field.get_description(current.env)["string"],
                            model=current._description,
                        )
                    )
                if not field.relational:
                    break
                current = current.env[field.comodel_name]
            # an operator is checked whatever its case: the subdomain of 'ANY' is checked as that of 'any'
            operator = str(leaf[1]).lower()
            if operator in ("any", "not any") and isinstance(leaf[2], list | tuple) and field and field.relational:
                self._check_filter_field_access(current, leaf[2])

    # ------------------------------------------------------------------ the SQL, layer by layer
    @api.model
    def _get_recipients_query(self, mailing, window=None):
        """SQL of the records chosen: rows (res_id, number, raw_phone, country_code, opted_out).

        The model is ``recipient_model_id``. Mailing-list contacts: those
        subscribed to any of ``list_ids`` the sender may read (and matching
        ``domain``); ``opted_out`` when opted out of all of them; no list, no
        recipient. Other models: the records matching ``domain``. Records are
        searched as the sender (``_get_env``), so their access
        rules and record rules apply in the SQL; a filter on a field they may
        not read is refused. ``window``: only the res_ids in [lo, hi].
        """
        mailing.ensure_one()
        model_name = audience_model_of(mailing) or CONTACT_MODEL
        config = self.env["sms.marketing.recipient.model"]._get_for_model(model_name)
        if not config:
            raise UserError(
                _("%(model)s is not an SMS-enabled model.", model=mailing.recipient_model_id.name or model_name)
            )
        audience_env = self._get_env(mailing)
        domain = self._get_filter(mailing)
        if not self._is_list_audience(mailing):
            numbers = config._get_numbers_query(domain, audience_env)
            query = SQL(
                "SELECT r.res_id, r.number, r.raw_phone, r.country_code, FALSE AS opted_out FROM (%s) r",
                numbers,
            )
            return self._narrow_to_window(query, window)
        # lists of another company, or that the sender may not read, count for nothing
        list_ids = audience_env["sms.marketing.list"].search([("id", "in", mailing.list_ids.ids)]).ids
        if not list_ids:
            return SQL(
                "SELECT NULL::int AS res_id, NULL::varchar AS number, NULL::varchar AS raw_phone,"
                " NULL::varchar AS country_code, FALSE AS opted_out WHERE FALSE"
            )
        self.env["sms.marketing.subscription"].flush_model()
        numbers = config._get_numbers_query(domain, audience_env)
        # the window narrows the subscriptions too: PostgreSQL carries a range across a join to neither
        # side, and each window grouped every subscription up to its end (the list's first contacts again
        # and again: the eight windows of a 100,000-contact mailing grouped 510,000 rows)
        in_window = SQL("AND contact_id BETWEEN %s AND %s", *window) if window else SQL()
        query = SQL(
            """
            SELECT r.res_id, r.number, r.raw_phone, r.country_code, s.opted_out
              FROM (SELECT contact_id, bool_and(COALESCE(opt_out, FALSE)) AS opted_out
                      FROM sms_marketing_subscription
                     WHERE list_id = ANY(%s) %s
                  GROUP BY contact_id) s
              JOIN (%s) r ON r.res_id = s.contact_id
            """,
            list_ids,
            in_window,
            numbers,
        )
        return self._narrow_to_window(query, window)

    @api.model
    def _narrow_to_window(self, query, window):
        if not window:
            return query
        lo, hi = window
        return SQL("SELECT w.* FROM (%s) w WHERE w.res_id BETWEEN %s AND %s", query, lo, hi)

    @api.model
    def _get_flagged_query(self, mailing, window=None, recipients=None):
        """The recipients plus ``blacklisted``, ``capped`` (``mailing._get_frequency_cap_condition``) and
        ``eligible`` (a valid number, neither blacklisted, opted out nor capped): the audience has someone
        to send to iff one row is eligible (the first of each eligible number is sent).

        An empty number is no number; ``opted_out`` is never NULL.
        """
        mailing.ensure_one()
        self.env["sms.marketing.blacklist"].flush_model(["number", "active"])
        return SQL(
            """SELECT f.*, f.number IS NOT NULL AND NOT f.blacklisted AND NOT f.opted_out
                           AND NOT f.capped AS eligible
                 FROM (SELECT r.*, b.id IS NOT NULL AS blacklisted,
                              r.number IS NOT NULL AND b.id IS NULL AND NOT r.opted_out AND %s AS capped
                         FROM (SELECT q.res_id, NULLIF(q.number, '') AS number, q.raw_phone, q.country_code,
                                      COALESCE(q.opted_out, FALSE) AS opted_out
                                 FROM (%s) q) r
                    LEFT JOIN sms_marketing_blacklist b ON b.number = r.number AND b.active) f""",
            mailing._get_frequency_cap_condition(SQL("r.number")),
            # a journey step sends to its due participants: the audience query it narrowed to them
            self._narrow_to_window(recipients, window)
            if recipients is not None
            else self._get_recipients_query(mailing, window),
        )

    @api.model
    def _get_classified_query(self, mailing, window=None, recipients=None):
        """The flagged recipients plus ``reason``: the first of ``REASONS`` that holds, NULL to send.

        1. ``invalid_number``: no valid number;
        2. ``blacklisted``: the number is in the active blacklist;
        3. ``opted_out``: the contact opted out of all the chosen lists;
        4. ``frequency_capped``: the number received the cap's count of marketing SMS in its period;
        5. ``duplicate``: the number is on an eligible row with a lower ``res_id`` or, in a build
           ``window``, already has a trace of this mailing (built by an earlier window).
        """
        mailing.ensure_one()
        flagged = self._get_flagged_query(mailing, window, recipients)
        select = SQL(
            """SELECT k.res_id, k.number, k.raw_phone, k.country_code, k.opted_out,
                      CASE WHEN k.number IS NULL THEN 'invalid_number'
                           WHEN k.blacklisted THEN 'blacklisted'
                           WHEN k.opted_out THEN 'opted_out'
                           WHEN k.capped THEN 'frequency_capped'
                           WHEN row_number() OVER (PARTITION BY k.number, k.eligible ORDER BY k.res_id) > 1 OR %s
                           THEN 'duplicate'
                      END AS reason""",
            SQL("p.number IS NOT NULL AND (p.min_res_id != k.res_id OR p.max_res_id != k.res_id)")
            if window
            else SQL("FALSE"),
        )
        if not window:
            # the whole audience (the form, Send, statistics): no trace of this mailing counts yet
            return SQL("%s FROM (%s) k", select, flagged)
        # The numbers of the window that already have a trace of this mailing: one look-up per number
        # through the (number, mailing_id) index, both columns bound, so a window costs its own size
        # (``mailing_being_built_sql``: not a walk of the traces the mailing has built so far).
        return SQL(
            """WITH flagged AS MATERIALIZED (%s)
               %s
                 FROM flagged k
                 LEFT JOIN (SELECT f.number, built.min_res_id, built.max_res_id
                              FROM (SELECT DISTINCT number FROM flagged WHERE number IS NOT NULL) f
                              CROSS JOIN LATERAL (
                                    SELECT min(t.res_id) AS min_res_id, max(t.res_id) AS max_res_id
                                      FROM sms_marketing_trace t
                                     WHERE t.mailing_id = %s AND t.number = f.number
                                       AND t.state != 'canceled') built
                             WHERE built.min_res_id IS NOT NULL) p ON p.number = k.number""",
            flagged,
            select,
            mailing_being_built_sql(mailing.id),
        )

    @api.model
    def _get_trace_rows_query(self, mailing, lo, hi, recipients=None):
        """The classified rows of the build window [lo, hi] the engine makes traces of, with
        ``variant_id`` and ``ab_sample``.

        No A/B test: every row, no version. Test phase (no winner yet): only the
        test share — of the window's rows to send to, the first ``ab_test_share``
        % (rounded up) by md5(mailing, record), a draw that is random and the
        same on every run — dealt round-robin to the versions, continuing from the
        test rows already built so that the versions stay even across windows.
        Rest phase: every row, with the winner; the test share's rows are
        already there (the insert's ON CONFLICT skips them) and their numbers
        make the rest's same numbers duplicates.
        """
        classified = self._get_classified_query(mailing, (lo, hi), recipients)
        if not mailing.ab_testing:
            return SQL("SELECT c.*, NULL::int AS variant_id, FALSE AS ab_sample FROM (%s) c", classified)
        if mailing.ab_winner_variant_id:
            return SQL(
                "SELECT c.*, %s::int AS variant_id, FALSE AS ab_sample FROM (%s) c",
                mailing.ab_winner_variant_id.id,
                classified,
            )
        versions = mailing.variant_ids.sorted(lambda v: (not v.is_main, v.sequence, v.id)).ids
        return SQL(
            """SELECT d.*, (%(versions)s::int[])[mod(d.draw - 1 + %(dealt)s, %(count)s) + 1] AS variant_id,
                      TRUE AS ab_sample
                 FROM (SELECT c.*,
                              row_number() OVER (ORDER BY md5(%(seed)s || c.res_id::text)) AS draw,
                              count(*) OVER () AS eligible_count
                         FROM (%(classified)s) c WHERE c.reason IS NULL) d
                WHERE d.draw <= ceil(d.eligible_count * %(share)s / 100.0)""",
            versions=versions,
            count=len(versions),
            dealt=SQL("(SELECT count(*) FROM sms_marketing_trace WHERE mailing_id = %s AND ab_sample)", mailing.id),
            seed=f"{mailing.id}:",
            share=mailing.ab_test_share,
            classified=classified,
        )

    @api.model
    def _get_sent_classified_query(self, mailing):
        """A sent mailing's traces as classified rows (country_code, number, reason): the reason its
        trace was canceled for when the audience was built."""
        return SQL(
            """SELECT t.country_code,
                      CASE WHEN t.failure_type = 'invalid_number' THEN NULL ELSE t.number END AS number,
                      CASE WHEN t.failure_type = ANY(%s) THEN t.failure_type END AS reason
                 FROM sms_marketing_trace t
                WHERE t.mailing_id = %s""",
            list(REASONS),
            mailing._origin.id,
        )

    # ------------------------------------------------------------------ answers
    @api.model
    def _get_statistics(self, mailing):
        """Counts of the audience, in SQL: ``STATISTICS_KEYS`` and by_country {ISO code or False:
        recipients to send to}.

        A sent mailing's audience is the one it was sent to (its traces, by the
        reason each was canceled), not who its lists or filter select today.
        """
        mailing.ensure_one()
        classified = (
            self._get_sent_classified_query(mailing)
            if mailing.state == "done" and mailing._origin.id
            else self._get_classified_query(mailing)
        )
        self.env.cr.execute(
            SQL(
                """
                SELECT c.country_code,
                       count(*),
                       count(*) FILTER (WHERE c.number IS NOT NULL),
                       count(*) FILTER (WHERE c.reason = 'blacklisted'),
                       count(*) FILTER (WHERE c.reason = 'opted_out'),
                       count(*) FILTER (WHERE c.reason = 'frequency_capped'),
                       count(*) FILTER (WHERE c.reason = 'duplicate'),
                       count(*) FILTER (WHERE c.reason IS NULL)
                  FROM (%s) c
              GROUP BY c.country_code
                """,
                classified,
            )
        )
        keys = ("total", "valid", "blacklisted", "opted_out", "frequency_capped", "duplicates", "to_send")
        stats = dict.fromkeys(keys, 0)
        by_country = {}
        for country_code, *counts in self.env.cr.fetchall():
            for key, count in zip(keys, counts, strict=True):
                stats[key] += count
            if counts[-1]:
                by_country[country_code or False] = counts[-1]
        stats["invalid"] = stats["total"] - stats["valid"]
        stats["by_country"] = by_country
        return stats

    @api.model
    def _get_form_statistics(self, mailing):
        """(statistics, error): ``_get_statistics`` made safe for a form being edited.

        A filter being edited can be invalid for a moment: the form then shows
        the reason instead of failing.
        """
        mailing.ensure_one()
        empty = dict.fromkeys(STATISTICS_KEYS, 0)
        empty["by_country"] = {}
        if not mailing.recipient_model_id:
            return empty, False
        try:
            self._parse_filter(mailing)
            with self.env.cr.savepoint():
                stats = self._get_statistics(mailing)
        except FILTER_ERRORS as error:
            return empty, str(error.args[0] if error.args else error)
        except psycopg2.Error as error:  # rolled back by the savepoint; the form shows why
            return empty, _("The recipients cannot be counted: %(error)s", error=error.diag.message_primary)
        return {**empty, **stats, "by_country": dict(stats.get("by_country") or {})}, False

    @api.model
    def _get_filter_error(self, mailing):
        """Why the recipient filter cannot be used, or False (as ``_get_form_statistics``, no count)."""
        mailing.ensure_one()
        try:
            self._parse_filter(mailing)
            self._get_recipients_query(mailing)
        except FILTER_ERRORS as error:
            return str(error.args[0] if error.args else error)
        return False

    @api.model
    def _has_recipients(self, mailing):
        """True when one row is eligible (LIMIT 1: no ranking of the whole audience)."""
        self.env.cr.execute(SQL("SELECT 1 FROM (%s) f WHERE f.eligible LIMIT 1", self._get_flagged_query(mailing)))
        return bool(self.env.cr.fetchone())

    @api.model
    def _is_large(self, mailing):
        """True when the audience has more rows than ``send_check_full_limit`` (counted up to there only).

        False for a filter that cannot run: the full check reports why.
        """
        mailing.ensure_one()
        limit = int(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("sms_marketing_custom.send_check_full_limit", SEND_CHECK_FULL_LIMIT)
        )
        try:
            with self.env.cr.savepoint():
                self.env.cr.execute(
                    SQL(
                        "SELECT count(*) FROM (SELECT 1 FROM (%s) r LIMIT %s) r",
                        self._get_recipients_query(mailing),
                        limit + 1,
                    )
                )
                return self.env.cr.fetchone()[0] > limit
        except (*FILTER_ERRORS, psycopg2.Error):
            return False

    @api.model
    def _get_sendable_rows(self, mailing, limit=None, sample=False):
        """[(res_id, country code)] of the recipients the mailing sends to, in ``res_id`` order:
        the first ``limit`` ones, or with ``sample`` a spread sample of that size (the same one
        each time)."""
        mailing.ensure_one()
        order = SQL("md5(c.res_id::text)") if sample else SQL("c.res_id")
        try:
            with self.env.cr.savepoint(flush=False):
                query = SQL(
                    "SELECT c.res_id, c.country_code FROM (%s) c WHERE c.reason IS NULL ORDER BY %s LIMIT %s",
                    self._get_classified_query(mailing),
                    order,
                    limit,
                )
                self.env.cr.execute(query)
                rows = self.env.cr.fetchall()
        except (*FILTER_ERRORS, KeyError, TypeError, psycopg2.Error):
            return []  # an invalid filter being edited: the form says why elsewhere
        return sorted(rows)

    @api.model
    def _get_res_ids_of_numbers(self, mailing, numbers):
        """{number: res_id} of the first recipient to send to with each of ``numbers`` (E.164)."""
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT ON (c.number) c.number, c.res_id
                     FROM (%s) c
                    WHERE c.reason IS NULL AND c.number = ANY(%s)
                 ORDER BY c.number, c.res_id""",
                self._get_classified_query(mailing),
                numbers,
            )
        )
        return dict(self.env.cr.fetchall())


class SmsMarketingMailing(models.Model):
    _inherit = "sms.marketing.mailing"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def default_get(self, fields_list):
        return without_default_sender(super().default_get(fields_list))
