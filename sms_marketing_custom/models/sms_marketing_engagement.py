"""Engagement filters: what each recipient received and clicked, on every SMS-enabled model that has them.

One definition, keyed by the model's ``_name`` on the traces' ``res_model`` /
``res_id``: the fields are non-stored, computed with one grouped query for all
the records of a compute, and searched with one SQL subquery on ``id`` (never
record by record), so that a filter counts 1,000,000 contacts in one query.

* Received: a trace ``sent`` or ``delivered`` (``sent_at`` is when it left);
* Clicked: a click tied to a trace of the record (a click without a valid
  token belongs to nobody); the click keeps the trace's ``res_model``/``res_id``,
  so that click filters read the clicks alone;
* Delivery failure: a ``failed`` trace, at its ``failed_at`` (set by the trace
  table's trigger; its partial index holds the failures only);
* the filters on the last click and the last failure read each recipient's last
  click and failure (``sms.marketing.engagement.summary``, kept by triggers),
  not every click and failure of the history;
* Replied: an SMS received from the record's number (not a keyword), through
  the conversations matched to the record (``sms.marketing.conversation.match``).

Traces and clicks are read with the user's rights (their access rights and
company rules): a marketer filters on the mailings of their companies only,
and the ids found are then filtered again by the model's own record rules in
the outer search. Records without any trace have the "empty" value (no date,
0, False, no mailing): when it satisfies the condition, the search returns the
complement of the records that do not, as an anti-join (a ``NOT IN`` of a
large subquery would not be hashed by PostgreSQL beyond ``work_mem``).
"""

import ast
import operator as py_operator
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, Query, table_exists

RECEIVED_STATES = ("sent", "delivered")
RECEIVED_DAYS = 30
CLICKED_DAYS = 90
REPLIED_DAYS = 30
ENGAGEMENT_GROUP = "sms_marketing_custom.group_sms_marketing_user"

COMPARISONS = {
    "=": py_operator.eq,
    "!=": py_operator.ne,
    "<": py_operator.lt,
    "<=": py_operator.le,
    ">": py_operator.gt,
    ">=": py_operator.ge,
}
SQL_COMPARISONS = {"=": SQL("="), "!=": SQL("<>"), "<": SQL("<"), "<=": SQL("<="), ">": SQL(">"), ">=": SQL(">=")}


class SmsMarketingEngagementMixin(models.AbstractModel):
    _name = "sms.marketing.engagement.mixin"
    _description = "SMS Engagement Filters"

    sms_last_received_at = fields.Datetime(
        string="Last SMS Received",
        compute="_compute_sms_engagement",
        search="_search_sms_last_received_at",
        groups=ENGAGEMENT_GROUP,
        help="When the last marketing SMS sent to this recipient left (sent or delivered).",
    )
    sms_last_click_at = fields.Datetime(
        string="Last SMS Click",
        compute="_compute_sms_engagement",
        search="_search_sms_last_click_at",
        groups=ENGAGEMENT_GROUP,
        help="When this recipient last clicked a tracked link of a marketing SMS.",
    )
    sms_received_30d_count = fields.Integer(
        string="SMS Received (30 Days)",
        compute="_compute_sms_engagement",
        search="_search_sms_received_30d_count",
        groups=ENGAGEMENT_GROUP,
        help="Marketing SMS sent to this recipient in the last 30 days.",
    )
    sms_clicked_90d = fields.Boolean(
        string="Clicked (90 Days)",
        compute="_compute_sms_engagement",
        search="_search_sms_clicked_90d",
        groups=ENGAGEMENT_GROUP,
        help="This recipient clicked a tracked link of a marketing SMS in the last 90 days.",
    )
    sms_replied_30d = fields.Boolean(
        string="Replied (30 Days)",
        compute="_compute_sms_engagement",
        search="_search_sms_replied_30d",
        groups=ENGAGEMENT_GROUP,
        help="This recipient sent us an SMS (other than a keyword) in the last 30 days.",
    )
    sms_last_failure_at = fields.Datetime(
        string="Last Delivery Failure",
        compute="_compute_sms_engagement",
        search="_search_sms_last_failure_at",
        groups=ENGAGEMENT_GROUP,
        help="When the last marketing SMS to this recipient was recorded as failed.",
    )
    sms_received_mailing_ids = fields.Many2many(
        "sms.marketing.mailing",
        string="Received Mailing",
        compute="_compute_sms_engagement",
        search="_search_sms_received_mailing_ids",
        groups=ENGAGEMENT_GROUP,
        help="The SMS mailings this recipient was sent.",
    )
    sms_clicked_mailing_ids = fields.Many2many(
        "sms.marketing.mailing",
        string="Clicked Mailing",
        compute="_compute_sms_engagement",
        search="_search_sms_clicked_mailing_ids",
        groups=ENGAGEMENT_GROUP,
        help="The SMS mailings whose tracked link this recipient clicked.",
    )

    # ------------------------------------------------------------------ sources
    def _sms_rows_sql(self, model_name, domain, *columns):
        """SELECT ``columns`` of the traces (clicks, summary rows) of this model's records matching ``domain``,
        read with the user's rights (access rights and the company rule: the mailings of the user's companies)."""
        Model = self.env[model_name]
        Model.flush_model([name for name in ("res_model", "res_id", "mailing_id", *columns) if name in Model._fields])
        self.env["sms.marketing.trace"]._disable_jit_for_transaction()
        query = Model._search([("res_model", "=", self._name), ("res_id", "!=", False), *domain])
        return query.select(
            *(SQL("%s AS %s", SQL.identifier(query.table, col), SQL.identifier(col)) for col in columns)
        )

    def _sms_traces_sql(self, domain, *columns):
        return self._sms_rows_sql("sms.marketing.trace", domain, *columns)

    def _sms_received_sql(self, domain=(), since=None):
        """Rows (res_id, mailing_id, sent_at) of the SMS these records received (sent after ``since``).

        A time window is read in the traces of the mailings that sent in it only
        (``sms.marketing.trace._get_sent_after_domain``): a filter on the last 30 days does not read a
        year of history."""
        if since is not None:
            domain = [*self.env["sms.marketing.trace"]._get_sent_after_domain(since), *domain]
        return self._sms_traces_sql(
            [("state", "in", RECEIVED_STATES), ("sent_at", "!=", False), *domain], "res_id", "mailing_id", "sent_at"
        )

    def _sms_summary_sql(self, column, domain=()):
        """Rows (res_id, ``column``) of these records' last click or last failure (``last_click_at``,
        ``last_failure_at``), one per company of the mailings: the engagement summary, which grows with the
        recipients and not with the history (``sms.marketing.engagement.summary``)."""
        # its triggers count what is written: pending ORM writes of clicks and traces first
        self.env["sms.marketing.link.click"].flush_model(["res_model", "res_id", "mailing_id", "click_date"])
        self.env["sms.marketing.trace"].flush_model(["res_model", "res_id", "mailing_id", "state", "failed_at"])
        self.env["sms.marketing.mailing"].flush_model(["company_id"])
        return self._sms_rows_sql(
            "sms.marketing.engagement.summary", [(column, "!=", False), *domain], "res_id", column
        )

    def _sms_failures_sql(self, domain=()):
        """Rows (res_id, failed_at) of the SMS to these records that failed."""
        return self._sms_traces_sql([("failed_at", "!=", False), *domain], "res_id", "failed_at")

    def _sms_replies_sql(self, domain=()):
        """Rows (res_id, date) of the SMS these records sent us (keywords aside), read with the user's rights
        on the conversations' messages (their companies, the numbers of records they may read)."""
        Message = self.env["sms.marketing.conversation.message"]
        Message.flush_model(["conversation_id", "direction", "is_keyword", "date"])
        self.env["sms.marketing.conversation.match"].flush_model()
        query = Message._search([("direction", "=", "in"), ("is_keyword", "=", False), *domain])
        return SQL(
            """SELECT r.res_id, msg.date FROM (%s) msg
                 JOIN sms_marketing_conversation_match r
                   ON r.conversation_id = msg.conversation_id AND r.res_model = %s""",
            query.select(SQL.identifier(query.table, "conversation_id"), SQL.identifier(query.table, "date")),
            self._name,
        )

    def _sms_clicks_sql(self, domain=()):
        """Rows (res_id, mailing_id, click_date) of the clicks of these records."""
        return self._sms_rows_sql("sms.marketing.link.click", domain, "res_id", "mailing_id", "click_date")

    # ------------------------------------------------------------------ compute
    def _compute_sms_engagement(self):
        by_id = {record._origin.id: record for record in self if record._origin.id}
        values = dict.fromkeys(by_id, None)
        if by_id:
            now = fields.Datetime.now()
            ids_domain = [("res_id", "in", list(by_id))]
            self.env.cr.execute(
                SQL(
                    """
                    SELECT r.res_id, max(r.sent_at), count(*) FILTER (WHERE r.sent_at >= %s),
                           array_agg(DISTINCT r.mailing_id)
                      FROM (%s) r
                  GROUP BY r.res_id
                    """,
                    now - timedelta(days=RECEIVED_DAYS),
                    self._sms_received_sql(ids_domain),
                )
            )
            received = {row[0]: row[1:] for row in self.env.cr.fetchall()}
            self.env.cr.execute(
                SQL(
                    "SELECT f.res_id, max(f.failed_at) FROM (%s) f GROUP BY f.res_id",
                    self._sms_failures_sql(ids_domain),
                )
            )
            failures = dict(self.env.cr.fetchall())
            self.env.cr.execute(
                SQL(
                    """SELECT c.res_id, max(c.click_date), array_agg(DISTINCT c.mailing_id)
                         FROM (%s) c GROUP BY c.res_id""",
                    self._sms_clicks_sql(ids_domain),
                )
            )
            clicks = {row[0]: row[1:] for row in self.env.cr.fetchall()}
            self.env.cr.execute(
                SQL(
                    "SELECT DISTINCT r.res_id FROM (%s) r WHERE r.res_id = ANY(%s)",
                    self._sms_replies_sql([("date", ">=", now - timedelta(days=REPLIED_DAYS))]),
                    list(by_id),
                )
            )
            replied = {row[0] for row in self.env.cr.fetchall()}
            since_click = now - timedelta(days=CLICKED_DAYS)
            for res_id in by_id:
                last_received, recent_count, mailing_ids = received.get(res_id, (False, 0, []))
                last_click, clicked_ids = clicks.get(res_id, (False, []))
                values[res_id] = {
                    "sms_last_received_at": last_received,
                    "sms_received_30d_count": recent_count,
                    "sms_received_mailing_ids": [(6, 0, mailing_ids)],
                    "sms_last_click_at": last_click,
                    "sms_clicked_90d": bool(last_click and last_click >= since_click),
                    "sms_clicked_mailing_ids": [(6, 0, clicked_ids)],
                    "sms_last_failure_at": failures.get(res_id, False),
                    "sms_replied_30d": res_id in replied,
                }
        empty = {
            "sms_last_received_at": False,
            "sms_received_30d_count": 0,
            "sms_received_mailing_ids": [(5, 0, 0)],
            "sms_last_click_at": False,
            "sms_clicked_90d": False,
            "sms_clicked_mailing_ids": [(5, 0, 0)],
            "sms_last_failure_at": False,
            "sms_replied_30d": False,
        }
        for record in self:
            record.update(values.get(record._origin.id) or empty)

    # ------------------------------------------------------------------ search
    def _search_sms_last_received_at(self, operator, value):
        since = None
        if operator in (">", ">=") and value not in (False, None):
            # the last date is after X iff one date is: the mailings sent after X only (bad values: refused below)
            try:
                since = fields.Datetime.to_datetime(value)
            except (TypeError, ValueError):
                since = None
            if since is not None and operator == ">=":
                since -= timedelta(microseconds=1)
        rows = self._sms_received_sql(since=since)
        return self._sms_search_aggregate("sms_last_received_at", rows, "sent_at", operator, value)

    def _search_sms_last_click_at(self, operator, value):
        rows = self._sms_summary_sql("last_click_at")
        return self._sms_search_aggregate("sms_last_click_at", rows, "last_click_at", operator, value)

    def _search_sms_last_failure_at(self, operator, value):
        rows = self._sms_summary_sql("last_failure_at")
        return self._sms_search_aggregate("sms_last_failure_at", rows, "last_failure_at", operator, value)

    def _search_sms_received_30d_count(self, operator, value):
        since = fields.Datetime.now() - timedelta(days=RECEIVED_DAYS)
        rows = self._sms_received_sql(since=since - timedelta(microseconds=1))  # from ``since`` included
        return self._sms_search_aggregate("sms_received_30d_count", rows, None, operator, value)

    def _search_sms_clicked_90d(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise self._sms_operator_error("sms_clicked_90d", operator, value)
        since = fields.Datetime.now() - timedelta(days=CLICKED_DAYS)
        # a click in the window iff the last one is in it
        rows = self._sms_summary_sql("last_click_at", [("last_click_at", ">=", since)])
        return self._sms_ids_domain(SQL("SELECT r.res_id FROM (%s) r", rows), (operator == "=") == value, few=True)

    def _search_sms_replied_30d(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise self._sms_operator_error("sms_replied_30d", operator, value)
        rows = self._sms_replies_sql([("date", ">=", fields.Datetime.now() - timedelta(days=REPLIED_DAYS))])
        return self._sms_ids_domain(SQL("SELECT r.res_id FROM (%s) r", rows), (operator == "=") == value)

    def _search_sms_received_mailing_ids(self, operator, value):
        return self._sms_search_mailings("sms_received_mailing_ids", operator, value, clicked=False)

    def _search_sms_clicked_mailing_ids(self, operator, value):
        return self._sms_search_mailings("sms_clicked_mailing_ids", operator, value, clicked=True)

    def _sms_search_mailings(self, field_name, operator, value, clicked):
        """Records that received (clicked) any of the mailings ``value``: ``in``/``=`` (and their negations
        ``not in``/``!=``, records without them), ``= False``/``!= False`` (none/any), ``ilike`` on the
        subject, ``any``/``not any`` a domain on the mailings (paths such as ``...mailing_ids.subject``)."""
        Mailing = self.env["sms.marketing.mailing"]
        positive = operator in ("in", "=", "ilike", "any")
        if operator not in ("in", "not in", "=", "!=", "ilike", "not ilike", "any", "not any"):
            raise self._sms_operator_error(field_name, operator, value)
        if operator in ("any", "not any"):
            # a path ("sms_received_mailing_ids.subject") or the editor's "matches any of"
            if isinstance(value, Query):
                value = [("id", "in", value)]
            if not isinstance(value, list | tuple):
                raise self._sms_operator_error(field_name, operator, value)
            operator, value = ("in" if positive else "not in"), Mailing._search(list(value))
        if value == [] and operator in ("in", "not in"):
            # in []: nobody; not in []: everybody
            return [("id", "=", False)] if operator == "in" else []
        if operator in ("ilike", "not ilike"):
            if not isinstance(value, str):
                raise self._sms_operator_error(field_name, operator, value)
            mailing_domain = [("subject", "ilike", value)]
        elif value is False or value is None:
            # = False: no mailing at all; != False: any
            mailing_domain = None
            positive = not positive
        elif isinstance(value, Query):
            mailing_domain = [("id", "in", value)]
        else:
            ids = value if isinstance(value, list | tuple) else [value]
            if not all(isinstance(mailing_id, int) and not isinstance(mailing_id, bool) for mailing_id in ids):
                raise self._sms_operator_error(field_name, operator, value)
            mailing_domain = [("id", "in", list(ids))]
        rows_domain = []
        if mailing_domain is not None:
            # the mailings the user may read (the traces' and clicks' rule applies too), by their ids: see
            # _sms_received_sql
            rows_domain = [("mailing_id", "in", Mailing.search(mailing_domain).ids)]
        rows = self._sms_clicks_sql(rows_domain) if clicked else self._sms_received_sql(rows_domain)
        # named mailings: their recipients, few beside the model's table
        return self._sms_ids_domain(SQL("SELECT r.res_id FROM (%s) r", rows), positive, few=mailing_domain is not None)

    # ------------------------------------------------------------------ search tools
    def _sms_search_aggregate(self, field_name, rows, date_column, operator, value):
        """Domain on ``id``: records whose last ``date_column`` (without one: whose count) over their
        ``rows`` (grouped by res_id) satisfies ``operator value``; records without rows have the empty
        value (no date, 0)."""
        if operator not in COMPARISONS:
            raise self._sms_operator_error(field_name, operator, value)
        any_row = SQL("SELECT r.res_id FROM (%s) r", rows)
        if date_column is None:
            if value is False or value is None:
                value = 0
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self._sms_operator_error(field_name, operator, value)
            aggregate = SQL("count(*)")
            empty_matches = COMPARISONS[operator](0, value)
        elif value is False or value is None:
            if operator not in ("=", "!="):
                raise self._sms_operator_error(field_name, operator, value)
            # set (!= False): any row; not set (= False): none
            return self._sms_ids_domain(any_row, operator == "!=")
        else:
            try:
                value = fields.Datetime.to_datetime(value)
            except (TypeError, ValueError) as error:
                raise self._sms_operator_error(field_name, operator, value) from error
            if value is None:
                raise self._sms_operator_error(field_name, operator, value)
            column = SQL.identifier("r", date_column)
            if operator in (">", ">="):
                # the last date is after X iff one date is: no grouping
                return self._sms_ids_domain(
                    SQL("%s WHERE %s %s %s", any_row, column, SQL_COMPARISONS[operator], value), few=True
                )  # a window: the rows after a date
            aggregate = SQL("max(%s)", column)
            # no date: only "different from" matches (as for a stored field)
            empty_matches = operator == "!="
        condition = SQL("%s %s %s", aggregate, SQL_COMPARISONS[operator], value)
        if not empty_matches:
            return self._sms_ids_domain(SQL("%s GROUP BY r.res_id HAVING %s", any_row, condition))
        # the empty value matches: every record but those whose rows do not
        return self._sms_ids_domain(SQL("%s GROUP BY r.res_id HAVING NOT (%s)", any_row, condition), False)

    def _sms_ids_domain(self, res_ids_sql, positive=True, few=False):
        """``[("id", "in", ...)]`` of the records whose id is (``positive``) or is not in ``res_ids_sql``;
        the complement is an anti-join on the model's table.

        ``few``: the ids found are few beside the model's table (the recipients of the mailings named, of
        a time window), looked up by its primary key. As ``IN (subquery)``, PostgreSQL costs each look-up as a disk read
        (random_page_cost) and scans the whole table into a hash join instead, 4x slower for a mailing
        of 10,000 among 200,000 contacts; an array of the ids (its size unknown to the planner) is looked
        up in the index."""
        if positive and few:
            return [("id", "=", SQL("ANY(ARRAY(%s))", res_ids_sql))]
        if positive:
            return [("id", "in", SQL("(%s)", res_ids_sql))]
        table = SQL.identifier(self._table)
        return [
            (
                "id",
                "in",
                SQL(
                    """(SELECT m.id FROM %s m
                         WHERE NOT EXISTS (SELECT 1 FROM (%s) x WHERE x.res_id = m.id))""",
                    table,
                    res_ids_sql,
                ),
            )
        ]

    @api.model
    def _sms_operator_error(self, field_name, operator, value):
        field = self._fields[field_name]
        return UserError(
            _(
                "The filter “%(field)s” does not support “%(operator)s %(value)s”.",
                field=field.get_description(self.env)["string"],
                operator=operator,
                value=value,
            )
        )


def combine_domains(*domains):
    """The text of a domain that is the AND of the domains given as text (as the domain editor stores them).

    Each is kept as written (``uid``, ``context_today()``... keep their meaning): the elements of the
    literal lists are joined at the top level (an implicit AND). Each text must be a literal domain
    (``tools.domain_literal``, checked before): anything else raises ValueError.
    """
    leaves = []
    for text in domains:
        text = (text or "[]").strip()
        node = ast.parse(text, mode="eval").body
        if not isinstance(node, ast.List | ast.Tuple):
            raise ValueError(f"not a literal domain: {text!r}")
        leaves.extend(ast.get_source_segment(text, element) for element in node.elts)
    return "[{}]".format(", ".join(leaves))


# ---------------------------------------------------------------------- models an administrator enables
# Contacts and partners inherit the mixin. Any other model an administrator enables
# (sms.marketing.recipient.model) gets the same fields and methods at each registry
# setup (ir.model.fields._add_manual_fields, called by BaseModel._setup_base): the
# fields are copies of the mixin's, removed again when the model is no longer enabled.
ENGAGEMENT_FIELD_NAMES = (
    "sms_last_received_at",
    "sms_last_click_at",
    "sms_received_30d_count",
    "sms_clicked_90d",
    "sms_replied_30d",
    "sms_last_failure_at",
    "sms_received_mailing_ids",
    "sms_clicked_mailing_ids",
)
ENGAGEMENT_METHODS = tuple(
    (name, function)
    for name, function in vars(SmsMarketingEngagementMixin).items()
    if callable(function) and name.startswith(("_sms_", "_compute_sms_", "_search_sms_"))
)


def get_enabled_models(cr):
    """Names of the enabled models, read in SQL (the registry is being set up)."""
    if not table_exists(cr, "sms_marketing_recipient_model"):
        return set()
    cr.execute(
        """SELECT m.model FROM sms_marketing_recipient_model r JOIN ir_model m ON m.id = r.model_id
            WHERE r.active"""
    )
    return {row[0] for row in cr.fetchall()}


def inherits_engagement_mixin(registry, model_name):
    """Whether ``model_name`` has the filters by inheritance (contacts, partners), not added here."""
    mixin = registry.get(SmsMarketingEngagementMixin._name)
    return model_name == SmsMarketingEngagementMixin._name or bool(mixin and model_name in mixin._inherit_children)


def setup_engagement_fields(model, enabled_models):
    """Add the engagement fields to ``model`` (being set up) if it is enabled; remove the ones added
    before if it no longer is."""
    if inherits_engagement_mixin(model.pool, model._name):
        return
    if model._name not in enabled_models or model._abstract or model._transient:
        for name in ENGAGEMENT_FIELD_NAMES:
            if name in model._fields:
                model._pop_field(name)
        return
    cls = model.env.registry[model._name]
    for name, function in ENGAGEMENT_METHODS:
        setattr(cls, name, function)
    for name in ENGAGEMENT_FIELD_NAMES:
        if name not in model._fields:
            definition = vars(SmsMarketingEngagementMixin)[name]
            field = type(definition)(**definition.args)
            # BaseModel._add_field takes the fields of the class only (or x_ names)
            setattr(cls, name, field)
            model._add_field(name, field)


def remove_engagement_field_rows(cr, model_names=None):
    """Delete the reflection (ir.model.fields) of the fields added to enabled models: it has no XML id
    (unlike the mixin's, its heirs' and their delegates' such as res.users), so neither disabling a
    model nor uninstalling the module would remove it."""
    query = SQL(
        """DELETE FROM ir_model_fields f
            WHERE f.name = ANY(%s)
              AND NOT EXISTS (SELECT 1 FROM ir_model_data d WHERE d.model = 'ir.model.fields' AND d.res_id = f.id)""",
        list(ENGAGEMENT_FIELD_NAMES),
    )
    if model_names is not None:
        query = SQL("%s AND f.model = ANY(%s)", query, list(model_names))
    cr.execute(query)
