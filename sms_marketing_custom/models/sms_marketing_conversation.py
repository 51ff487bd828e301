"""Conversations: every SMS sent back to a gateway, kept, matched, answered (docs/design.md, "Conversations").

What
    An inbound SMS is an ``sms.marketing.conversation.message`` (direction
    "in") of the conversation of its number in the receiving gateway's
    company (``sms.marketing.conversation``, one per number and company).
    Keywords (STOP, HELP, JOIN...) still act as before
    (``sms.marketing.blacklist._apply_inbound_keywords``) and are kept too,
    flagged, read and silent. Anything else is an unread reply: posted as a
    note on the chatter of the records with that number, counted on the
    mailing last sent to the number (within the company's reply window), and
    announced once per conversation (an activity for the mailing's
    Responsible, else the company's conversation team) when the conversation
    gets its first unread message.

How
    ``_receive`` takes the messages of one verified webhook call, set-wise:
    the conversations are inserted ``ON CONFLICT DO NOTHING``, the messages
    ``ON CONFLICT (gateway, provider id) DO NOTHING`` (a provider's retry is
    stored once and acts once), the last mailing is one lookup on the
    traces' number index, the matching records one query per SMS-enabled
    model. Nothing in it locks or writes the gateway's row, which every
    sender updates (balance, rate slots): a burst of replies never waits for
    a sender, nor a sender for it (keyword answers aside: they are charged).
    The texts are personal data: nothing here writes them to the server log.

Access
    A user reads the conversations of their companies whose number belongs
    to a record they may read (any matched model, its own access rights and
    record rules: ``is_readable``); managers also those of numbers no record
    matches.

Replies
    ``action_send_reply`` sends the composed text through the gateway that
    received the last message (else the company's routes), priced and
    charged on the credit ledger like any SMS, recorded as a message "out";
    refused for a blacklisted number with the reason.
"""

from datetime import timedelta

import psycopg2
from markupsafe import Markup

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError
from odoo.tools import SQL, create_index

from ..providers import SERVER_ERROR
from ..tools import phone as phone_tools
from ..tools import pricing
from ..tools.messages import new_message
from ..tools.sms_encoding import count_segments

MAX_TEXT = 4000  # a concatenated SMS is at most ~1,600 characters; more is not an SMS
MAX_MEDIA = 10  # Twilio sends up to 10 MMS links per message
PROVIDER_ID_SIZE = 200
# the models whose records get the reply on their chatter, in this order of preference for the name
CHATTER_MODELS = ("sms.marketing.contact", "res.partner")


class SmsMarketingConversation(models.Model):
    _name = "sms.marketing.conversation"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _description = "SMS Conversation"
    _order = "last_message_at desc, id desc"

    name = fields.Char(readonly=True, help="The person's name: the first record with this number, else the number.")
    number = fields.Char(required=True, readonly=True, index=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True, ondelete="cascade")
    sms_message_ids = fields.One2many("sms.marketing.conversation.message", "conversation_id", string="SMS Thread")
    match_ids = fields.One2many("sms.marketing.conversation.match", "conversation_id", string="Matched Records")
    last_message = fields.Char(readonly=True)
    last_message_at = fields.Datetime(readonly=True)
    unread_count = fields.Integer(readonly=True, default=0)
    last_mailing_id = fields.Many2one("sms.marketing.mailing", readonly=True)
    last_gateway_id = fields.Many2one(
        "sms.marketing.gateway", readonly=True, help="The gateway the last message arrived through."
    )
    is_readable = fields.Boolean(
        compute="_compute_is_readable",
        search="_search_is_readable",
        help="The current user may read a record with this number.",
    )
    blacklisted = fields.Boolean(compute="_compute_blacklisted")
    # the reply box (kept as a draft on the conversation until sent)
    reply_body = fields.Text(string="Reply")
    reply_sms_info = fields.Char(compute="_compute_reply_estimate", string="Characters")
    reply_cost = fields.Char(compute="_compute_reply_estimate", string="Price")

    _sql_constraints = [
        ("number_company_unique", "unique(number, company_id)", "One conversation per number and company.")
    ]

    # ------------------------------------------------------------------ computes
    def _compute_is_readable(self):
        readable = set(self.search([("id", "in", self.ids), ("is_readable", "=", True)]).ids) if self.ids else set()
        for conversation in self:
            conversation.is_readable = conversation.id in readable

    def _search_is_readable(self, operator, value):
        """Conversations whose number belongs to a record the real user may read (its rights, its rules).

        Record rules evaluate this domain as superuser with the user's uid: the
        records are searched with ``su=False``, so their own rules apply.
        """
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(_("Readable can only be searched with 'is set' or 'is not set'."))
        env = self.env(su=False)
        self.env["sms.marketing.conversation.match"].flush_model()
        self.env.cr.execute("SELECT DISTINCT res_model FROM sms_marketing_conversation_match")
        selects = []
        for (model_name,) in self.env.cr.fetchall():
            if model_name not in env or not env[model_name].check_access_rights("read", raise_exception=False):
                continue
            query = env[model_name].with_context(active_test=False)._search([])
            selects.append(
                SQL(
                    """SELECT conversation_id FROM sms_marketing_conversation_match
                        WHERE res_model = %s AND res_id IN %s""",
                    model_name,
                    query.subselect(),
                )
            )
        readable = SQL(" UNION ").join(selects) if selects else SQL("SELECT NULL::int WHERE FALSE")
        return [("id", "in" if (operator == "=") == value else "not in", SQL("(%s)", readable))]

    def _compute_blacklisted(self):
        self.env["sms.marketing.blacklist"]._set_blacklisted_flag(self, "number")

    @api.depends("reply_body", "number", "last_gateway_id")
    @api.depends_context("lang")
    def _compute_reply_estimate(self):
        # what ``action_send_reply`` sends and charges: the same text, gateway and message (``new_message``)
        for conversation in self:
            text = conversation._get_reply_text()
            gateway = conversation._get_reply_gateway(raise_if_none=False) if text else None
            message = conversation._new_reply_message(gateway, text, "") if gateway else None
            segments = count_segments(text)
            parts = message["segments"] if message else segments.segments
            # worded as the mailing's counter words it (static/src/components/sms_body_field)
            encoding = _("Unicode (UCS-2)") if segments.encoding == "UCS-2" else _("GSM-7")
            counts = {"chars": len(text), "encoding": encoding, "parts": parts}
            conversation.reply_sms_info = (
                (
                    _("%(chars)s characters, %(encoding)s, %(parts)s SMS part", **counts)
                    if parts == 1
                    else _("%(chars)s characters, %(encoding)s, %(parts)s SMS parts", **counts)
                )
                if text
                else False
            )
            conversation.reply_cost = (
                _(
                    "%(credits)s credits on %(gateway)s",
                    credits=pricing.format_credits(self.env, message["cost"]),
                    gateway=gateway.name,
                )
                if message
                else False
            )

    # ------------------------------------------------------------------ CRUD
    def write(self, vals):
        # what a user may change is the reply being written; the rest is the inbound path's (as superuser)
        own = {name for name in vals if name in self._fields and self._fields[name]._module == self._module}
        if not self.env.su and own - {"reply_body"}:
            raise UserError(_("A conversation is written by the SMS it receives and sends; only the reply is yours."))
        return super().write(vals)

    # ------------------------------------------------------------------ actions
    def action_mark_read(self):
        """The marketer read the conversation: no unread message left, the next one notifies again."""
        self.check_access_rule("read")
        conversations = self.sudo()  # sudo: reading a conversation marks it read, whoever may read it
        conversations.sms_message_ids.filtered(lambda m: m.direction == "in" and not m.is_read).write({"is_read": True})
        conversations.write({"unread_count": 0})
        self.activity_ids.filtered(lambda a: a.user_id == self.env.user).action_feedback()
        return True

    def action_send_reply(self):
        """Send the reply box's text to the number; it becomes a message "out" of the thread."""
        self.ensure_one()
        self.check_access_rule("read")
        # one reply at a time per conversation: a second click waits for none, it is refused
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    "SELECT id FROM sms_marketing_conversation WHERE id = %s FOR NO KEY UPDATE NOWAIT", [self.id]
                )
        except psycopg2.errors.LockNotAvailable as error:
            raise UserError(_("This reply is already being sent.")) from error
        text = self._get_reply_text()
        if not text:
            raise UserError(_("Write the reply first."))
        if len(text) > MAX_TEXT:
            raise UserError(_("A reply is at most %(count)s characters.", count=MAX_TEXT))
        reason = self._get_reply_refusal()
        if reason:
            raise UserError(reason)
        gateway = self._get_reply_gateway()
        # emptied before the send commits the request's work: a second click finds no reply to send
        self.sudo().write({"reply_body": False})
        message = self._send_text(gateway, text)
        if message.state != "sent":
            # not raised: the provider was called and the failed message stays in the thread with its reason
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "warning",
                    "message": _("The reply was not sent: %(reason)s", reason=message.failure_reason or ""),
                },
            }
        self.action_mark_read()
        return True

    # ------------------------------------------------------------------ inbound
    @api.model
    def _receive(self, gateway, items, call_key=None):
        """Store and apply the inbound SMS ``items`` of one verified webhook call of ``gateway``.

        ``items`` are the provider's [{number, content, id?, media?}]; ``call_key``
        the call's identity (its nonce...), which names the messages a provider
        gives no id. Each message is stored once per (gateway, provider id): a
        message delivered again does nothing more. Returns one result per item,
        in order: {number, action} as ``_apply_inbound_keywords``, "duplicate"
        for a message stored before.
        """
        Blacklist = self.env["sms.marketing.blacklist"].with_context(sms_marketing_gateway_id=gateway.id)
        # what the ORM still holds (a reply just marked read, ...) is written before the SQL below adds to it
        for model_name in (self._name, "sms.marketing.conversation.message", "sms.marketing.conversation.match"):
            self.env[model_name].flush_model()
        rows = []
        for index, item in enumerate(items):
            number = Blacklist._normalize_inbound_number(item.get("number") or item.get("from"))
            provider_id = str(item.get("id") or "") or (f"{call_key}:{index}" if call_key else gateway._new_uuid())
            media = [url for url in item.get("media") or [] if isinstance(url, str) and url.startswith("https://")]
            rows.append(
                {
                    "index": index,
                    "number": number,
                    "content": str(item.get("content") or "")[:MAX_TEXT],
                    "provider_id": provider_id[:PROVIDER_ID_SIZE],
                    "media": "\n".join(media[:MAX_MEDIA]) or None,
                }
            )
        company_of = self._get_inbound_companies(gateway, {row["number"] for row in rows if row["number"]})
        by_company = {}
        for row in rows:
            by_company.setdefault(company_of.get(row["number"]) or company_of[None], []).append(row)
        stored = {}
        for company, company_rows in by_company.items():
            stored.update(self._store_inbound(gateway, company, [row for row in company_rows if row["number"]]))
        results = {}
        keyword_ids = []
        for company, company_rows in by_company.items():
            new_rows = [row for row in company_rows if row["index"] in stored or not row["number"]]
            # the keywords, their answers and JOIN's lists are those of the company the message lands in
            applied = Blacklist.with_context(sms_marketing_inbound_company_id=company.id)._apply_inbound_keywords(
                [items[row["index"]] for row in new_rows]
            )
            for row, result in zip(new_rows, applied, strict=True):
                results[row["index"]] = result
                if result["action"] != "ignored" and row["index"] in stored:
                    keyword_ids.append(stored[row["index"]])
        messages = self.env["sms.marketing.conversation.message"].browse(stored.values())
        messages._flag_keywords(keyword_ids)
        first_unread = messages._apply_to_conversations()
        messages.filtered(lambda m: not m.is_keyword)._post_on_chatters()
        self.browse(first_unread)._notify_new_reply()
        return [results.get(row["index"]) or {"number": row["number"], "action": "duplicate"} for row in rows]

    @api.model
    def _get_inbound_companies(self, gateway, numbers):
        """{number: the company its inbound SMS through ``gateway`` lands in}, and {None: the fallback}.

        A gateway of a company receives for that company. A gateway of no
        company (shared) receives for the company of the mailing it last
        carried to the number (the person answers that SMS); a number it
        carried nothing to goes to the main company (the database's first),
        whose managers see unknown numbers. Never the caller's company: the
        webhook's user, session or website are whoever posts the call, the
        provider's signature proves the gateway only.
        """
        if gateway.company_id:
            return {None: gateway.company_id}
        Company = self.env["res.company"].sudo()
        fallback = self.env.ref("base.main_company", raise_if_not_found=False) or Company.search([], limit=1)
        company_of = {None: fallback.sudo()}
        if not numbers:
            return company_of
        self.env["sms.marketing.trace"].flush_model(["number", "gateway_id", "sent_at", "mailing_id"])
        self.env["sms.marketing.mailing"].flush_model(["company_id", "gateway_id"])
        # The gateway a trace went through: the one it names (routing, the in-flight mark of a provider
        # that is not idempotent), else what sms.marketing.mailing._get_gateway picked: the mailing's,
        # else its company's default. Most traces name none (one shared gateway, no routes).
        Gateway = self.env["sms.marketing.gateway"]
        defaulting = [company.id for company in Company.search([]) if Gateway._get_default(company) == gateway]
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT ON (t.number) t.number, m.company_id
                     FROM sms_marketing_trace t JOIN sms_marketing_mailing m ON m.id = t.mailing_id
                    WHERE t.number = ANY(%(numbers)s) AND t.sent_at IS NOT NULL AND m.company_id IS NOT NULL
                      AND COALESCE(t.gateway_id, m.gateway_id,
                                   CASE WHEN m.company_id = ANY(%(defaulting)s) THEN %(gateway)s END) = %(gateway)s
                 ORDER BY t.number, t.sent_at DESC, t.id DESC""",
                numbers=sorted(numbers),
                defaulting=defaulting,
                gateway=gateway.id,
            )
        )
        company_of.update((number, Company.browse(company_id)) for number, company_id in self.env.cr.fetchall())
        return company_of

    @api.model
    def _store_inbound(self, gateway, company, rows):
        """Insert the messages ``rows`` (their conversations first); {row index: message id} of the new ones."""
        if not rows:
            return {}
        cr = self.env.cr
        now = fields.Datetime.now()
        numbers = sorted({row["number"] for row in rows})
        conversations = self._get_or_create(company, numbers)
        mailings = self._get_last_mailings(company, numbers, now)
        cr.execute(
            SQL(
                """INSERT INTO sms_marketing_conversation_message
                          (conversation_id, company_id, direction, number, body, gateway_id, date, provider_message_id,
                           media_urls, mailing_id, is_read, is_keyword, create_uid, create_date, write_uid, write_date)
                   SELECT v.conversation_id, %(company)s, 'in', v.number, v.body, %(gateway)s, %(now)s, v.pid,
                          v.media, v.mailing_id, FALSE, FALSE, %(uid)s, %(now)s, %(uid)s, %(now)s
                     FROM unnest(%(conversations)s::int[], %(numbers)s::varchar[], %(bodies)s::text[],
                                 %(pids)s::varchar[], %(media)s::text[], %(mailings)s::int[], %(indexes)s::int[])
                          AS v(conversation_id, number, body, pid, media, mailing_id, idx)
                 ORDER BY v.idx
                   ON CONFLICT (gateway_id, provider_message_id) WHERE direction = 'in' DO NOTHING
                RETURNING id, provider_message_id""",
                company=company.id,
                gateway=gateway.id,
                now=now,
                uid=self.env.uid,
                conversations=[conversations[row["number"]] for row in rows],
                numbers=[row["number"] for row in rows],
                bodies=[row["content"] for row in rows],
                pids=[row["provider_id"] for row in rows],
                media=[row["media"] for row in rows],
                mailings=[mailings.get(row["number"]) for row in rows],
                indexes=[row["index"] for row in rows],
            )
        )
        by_pid = {pid: message_id for message_id, pid in cr.fetchall()}
        stored = {}
        for row in rows:  # the same id twice in one call: the first is the message
            if row["provider_id"] in by_pid:
                stored[row["index"]] = by_pid.pop(row["provider_id"])
        self._match_records(company, conversations)
        return stored

    @api.model
    def _get_or_create(self, company, numbers):
        """{number: conversation id} of ``numbers`` in ``company``, created when new (concurrent-safe)."""
        cr = self.env.cr
        now = fields.Datetime.now()
        cr.execute(
            SQL(
                """INSERT INTO sms_marketing_conversation
                          (number, company_id, name, unread_count, create_uid, create_date, write_uid, write_date)
                   SELECT n, %(company)s, n, 0, %(uid)s, %(now)s, %(uid)s, %(now)s FROM unnest(%(numbers)s::varchar[]) n
                   ON CONFLICT (number, company_id) DO NOTHING""",
                company=company.id,
                numbers=numbers,
                uid=self.env.uid,
                now=now,
            )
        )
        cr.execute(
            SQL(
                "SELECT number, id FROM sms_marketing_conversation WHERE company_id = %s AND number = ANY(%s)",
                company.id,
                numbers,
            )
        )
        return dict(cr.fetchall())

    @api.model
    def _get_last_mailings(self, company, numbers, now):
        """{number: the mailing of the company last sent to it within the reply window} (the traces' number index)."""
        days = company.sms_marketing_reply_window_days
        if days <= 0:
            return {}
        self.env["sms.marketing.trace"].flush_model(["number", "state", "sent_at", "mailing_id"])
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT ON (t.number) t.number, t.mailing_id
                     FROM sms_marketing_trace t JOIN sms_marketing_mailing m ON m.id = t.mailing_id
                    WHERE t.number = ANY(%(numbers)s) AND t.state IN ('sent', 'delivered')
                      AND t.sent_at >= %(since)s AND COALESCE(m.company_id, %(company)s) = %(company)s
                 ORDER BY t.number, t.sent_at DESC, t.id DESC""",
                numbers=numbers,
                since=now - timedelta(days=days),
                company=company.id,
            )
        )
        return dict(self.env.cr.fetchall())

    @api.model
    def _match_records(self, company, conversations):
        """Link the conversations {number: id} to the records of every SMS-enabled model with that number
        (of the company, or of none), and name them after the first one (list contacts first)."""
        cr = self.env.cr
        numbers = list(conversations)
        ids = list(conversations.values())
        cr.execute(SQL("DELETE FROM sms_marketing_conversation_match WHERE conversation_id = ANY(%s)", ids))
        names = {}
        configs = self.env["sms.marketing.recipient.model"].sudo().search([])
        su_env = self.env(su=True)  # every record with the number: who may read them is decided when reading
        for config in sorted(configs, key=lambda c: (c.model not in CHATTER_MODELS, c.sequence, c.id)):
            if config.model not in su_env:
                continue
            Model = su_env[config.model]
            domain = [("company_id", "in", [company.id, False])] if "company_id" in Model._fields else []
            cr.execute(
                SQL(
                    """INSERT INTO sms_marketing_conversation_match (conversation_id, res_model, res_id)
                       SELECT DISTINCT c.id, %(model)s, q.res_id
                         FROM (%(query)s) q
                         JOIN unnest(%(numbers)s::varchar[], %(ids)s::int[]) AS c(number, id) ON c.number = q.number
                       ON CONFLICT DO NOTHING
                    RETURNING conversation_id, res_id""",
                    model=config.model,
                    query=config._get_numbers_query(domain, su_env),
                    numbers=numbers,
                    ids=ids,
                )
            )
            for conversation_id, res_id in sorted(cr.fetchall()):
                names.setdefault(conversation_id, (config.model, res_id))
        by_model = {}
        for conversation_id, (model_name, res_id) in names.items():
            by_model.setdefault(model_name, []).append((conversation_id, res_id))
        for model_name, pairs in by_model.items():
            records = su_env[model_name].browse([res_id for _conversation_id, res_id in pairs])
            record_names = {record.id: record.display_name for record in records}
            cr.execute(
                SQL(
                    """UPDATE sms_marketing_conversation c SET name = COALESCE(v.name, c.number)
                         FROM unnest(%s::int[], %s::varchar[]) AS v(id, name) WHERE c.id = v.id""",
                    [conversation_id for conversation_id, _res_id in pairs],
                    [record_names.get(res_id) or None for _conversation_id, res_id in pairs],
                )
            )
        self.env["sms.marketing.conversation.match"].invalidate_model()
        self.invalidate_model(["name", "match_ids"])

    def _notify_new_reply(self):
        """Tell who answers these conversations, which just got their first unread message: the last
        mailing's Responsible, else the company's conversation team, among them only who may read the
        conversation (``_get_readers``); one activity each, on the conversation (in their activities in
        Discuss), unless they still have one open there. Once per conversation: the next message notifies
        again only after someone read it."""
        todo = self.env.ref("mail.mail_activity_data_todo", raise_if_not_found=False)
        model_id = self.env["ir.model"]._get_id(self._name)
        open_pairs = set()
        if self:
            activities = (
                self.env["mail.activity"].sudo().search([("res_model", "=", self._name), ("res_id", "in", self.ids)])
            )
            open_pairs = {(activity.res_id, activity.user_id.id) for activity in activities}
        conversations = self.sudo()
        # the summary names the person: a Responsible who may not read it leaves it to the team
        readers = conversations._get_readers(lambda c: c.last_mailing_id.user_id)
        unheard = conversations.filtered(lambda c: c.id not in readers)
        readers.update(unheard._get_readers(lambda c: c.company_id.sms_marketing_conversation_user_ids))
        vals_list = []
        for conversation in conversations:
            users = readers.get(conversation.id, self.env["res.users"])
            for user in users.filtered(lambda u, c=conversation: (c.id, u.id) not in open_pairs):
                vals_list.append(
                    {
                        "res_model_id": model_id,
                        "res_id": conversation.id,
                        "user_id": user.id,
                        "activity_type_id": todo.id if todo else False,
                        # in its user's language: the webhook's request has the provider's, or none
                        # (a user without a language reads English, not the request's)
                        "summary": conversation.with_context(lang=user.lang or "en_US")._get_reply_summary(),
                        "date_deadline": fields.Date.context_today(conversation.with_context(tz=user.tz)),
                    }
                )
        if vals_list:
            # sudo: the webhook assigns on the company's behalf; quick: the activity itself (its bus
            # notification) is the announcement, without an assignment e-mail per reply
            self.env["mail.activity"].sudo().with_context(mail_activity_quick_update=True).create(vals_list)

    def _get_note_subject(self, mailing):
        """The subject of a reply to ``mailing`` (the one it answers, else none) in the chatter of the
        records it matched, written once for all their readers: in the language of the mailing's
        team (``_get_team_lang``), else English; not the webhook request's (the provider's, or none)."""
        self.ensure_one()
        lang = mailing._get_team_lang(self.company_id) or "en_US"
        return self.with_context(lang=lang)._get_note_subject_text()

    def _get_note_subject_text(self):
        return _("SMS reply")

    def _get_reply_summary(self):
        """The summary of the activity that announces a reply, in the language of this record's context."""
        return _("New SMS reply from %(name)s", name=self.name or self.number)

    def _get_readers(self, candidates_of):
        """{conversation id: the active users of ``candidates_of(conversation)`` who may read it}, one
        check per user for all the conversations (a burst of replies is not a query per conversation)."""
        to_check = {}
        for conversation in self:
            for user in candidates_of(conversation).filtered("active"):
                to_check.setdefault(user, []).append(conversation.id)
        readers = {}
        for user, conversation_ids in to_check.items():
            for conversation_id in self.browse(conversation_ids)._filter_readable_by(user).ids:
                readers[conversation_id] = readers.get(conversation_id, user.browse()) | user
        return readers

    def _filter_readable_by(self, user):
        """These conversations ``user`` may read in any of their companies: the model's access rights and
        record rules (a record with the number they may read; managers also a number no record has)."""
        as_user = self.with_user(user).with_context(allowed_company_ids=user.company_ids.ids)
        if not as_user.check_access_rights("read", raise_exception=False):
            return self.browse()
        return as_user._filter_access_rules("read").with_env(self.env)

    # ------------------------------------------------------------------ replies
    def _get_reply_refusal(self):
        """Why no reply may go to this number (a blacklisted number: its opt-out), or None."""
        self.ensure_one()
        entry = self.env["sms.marketing.blacklist"].sudo().search([("number", "=", self.number)], limit=1)
        if not entry:
            return None
        source = dict(entry._fields["source"]._description_selection(self.env)).get(entry.source, entry.source)
        return _(
            "%(number)s is blacklisted since %(date)s (%(how)s): it receives no SMS from us, not even a reply.",
            number=self.number,
            date=fields.Datetime.to_string(entry.date) if entry.date else "?",
            how=source,
        )

    def _get_reply_text(self):
        """The reply box's text as it leaves (what the counter counts and the price prices)."""
        self.ensure_one()
        return (self.reply_body or "").strip()

    def _new_reply_message(self, gateway, text, message_uuid):
        """The SMS of a reply through ``gateway``, priced as every SMS (``tools.messages.new_message``)."""
        self.ensure_one()
        country = phone_tools.country_of(self.number)
        return new_message(message_uuid, self.number, text, gateway.sender, country, gateway._get_prices())

    def _get_reply_gateway(self, raise_if_none=True):
        """The gateway that received the last message when it is still active, else the company's routes or
        default gateway for the number's country."""
        self.ensure_one()
        gateway = self.last_gateway_id.sudo()  # sudo: marketers reply through gateways they may not configure
        if not (gateway.active and gateway.company_id in (self.company_id, self.env["res.company"])):
            country = phone_tools.country_of(self.number)
            gateway = self.env["sms.marketing.gateway.route"]._get_gateway(self.company_id, country)
            gateway = gateway or self.env["sms.marketing.gateway"]._get_default(self.company_id)
        if not gateway and raise_if_none:
            raise UserError(_("No SMS gateway is configured for %(company)s.", company=self.company_id.name))
        return gateway.sudo()

    def _send_text(self, gateway, text):
        """Send ``text`` to the number through ``gateway``, charged on its ledger; the message "out".

        The engine's one way out (``sms.marketing.engine._send_now``): priced by
        ``new_message`` as every SMS, credits reserved and the request's work
        committed before the provider call, no lock held during it, the answer
        recorded and the reservation settled after.
        """
        self.ensure_one()
        message = self._new_reply_message(gateway, text, gateway._new_uuid())
        if gateway.balance < message["cost"]:
            raise UserError(_("The gateway %(name)s has not enough credits for this reply.", name=gateway.name))
        delivery = self.env["sms.marketing.engine"]._send_now(gateway, [message])
        result = {} if delivery.error else (delivery.results or {}).get(message["uuid"], {})
        if delivery.transient_error and not result:
            result = {"uuid": message["uuid"], "state": SERVER_ERROR, "error": str(delivery.transient_error)}
        Trace = self.env["sms.marketing.trace"]
        state, _failure_type = Trace._get_outcome(result.get("state") or SERVER_ERROR)
        sent = state == "sent"
        spent = round(delivery.spent or 0.0, pricing.LEDGER_DIGITS) if sent else 0.0
        now = fields.Datetime.now()
        reply = (
            self.env["sms.marketing.conversation.message"]
            .sudo()
            .create(
                {
                    "conversation_id": self.id,
                    "company_id": self.company_id.id,
                    "direction": "out",
                    "number": self.number,
                    "body": text,
                    "gateway_id": gateway.id,
                    "date": now,
                    "uuid": message["uuid"],
                    "provider_message_id": str(result.get("provider_id") or "")[:PROVIDER_ID_SIZE] or False,
                    "author_id": self.env.user.id,
                    "state": "sent" if sent else "failed",
                    "cost": spent,
                    "failure_reason": False if sent else Trace._describe_result(result.get("state")),
                    "is_read": True,
                }
            )
        )
        self.sudo().write({"last_message": text[:200], "last_message_at": now})
        return reply


class SmsMarketingConversationMatch(models.Model):
    """A record with the conversation's number (any SMS-enabled model): who may read it may read the
    conversation. Rebuilt at every inbound message of the number."""

    _name = "sms.marketing.conversation.match"
    _description = "SMS Conversation Record"
    _log_access = False

    conversation_id = fields.Many2one("sms.marketing.conversation", required=True, ondelete="cascade", index=True)
    res_model = fields.Char(required=True)
    res_id = fields.Integer(required=True)

    _sql_constraints = [
        ("record_unique", "unique(conversation_id, res_model, res_id)", "A record is matched once."),
    ]

    def init(self):
        # is_readable: the conversations of the records a user may read, by model
        create_index(self.env.cr, "sms_marketing_conversation_match_record_idx", self._table, ["res_model", "res_id"])


class SmsMarketingConversationMessage(models.Model):
    """One SMS of a conversation: theirs (in) or ours (out)."""

    _name = "sms.marketing.conversation.message"
    _description = "SMS Conversation Message"
    _order = "date, id"
    _rec_name = "body"

    conversation_id = fields.Many2one("sms.marketing.conversation", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    direction = fields.Selection([("in", "Received"), ("out", "Sent")], required=True, readonly=True)
    number = fields.Char(readonly=True)
    body = fields.Text(readonly=True)
    media_urls = fields.Text(string="Media", readonly=True, help="Links of the pictures of an MMS, one per line.")
    gateway_id = fields.Many2one("sms.marketing.gateway", readonly=True, ondelete="set null")
    date = fields.Datetime(readonly=True, default=fields.Datetime.now)
    provider_message_id = fields.Char(readonly=True)
    uuid = fields.Char(readonly=True)
    mailing_id = fields.Many2one(
        "sms.marketing.mailing",
        readonly=True,
        ondelete="set null",
        help="The mailing last sent to the number before this reply (within the company's reply window).",
    )
    is_keyword = fields.Boolean(readonly=True, help="A keyword (STOP, HELP, JOIN...): applied and answered.")
    is_read = fields.Boolean(readonly=True)
    author_id = fields.Many2one("res.users", readonly=True, help="Who sent the reply.")
    sender_name = fields.Char(string="From", compute="_compute_sender_name", help="The person, or who answered.")
    state = fields.Selection([("sent", "Sent"), ("failed", "Failed")], readonly=True)
    cost = fields.Float(digits=(16, 4), readonly=True)
    failure_reason = fields.Char(readonly=True)

    def init(self):
        # one inbound message per provider id and gateway: the arbiter of _store_inbound's ON CONFLICT
        # (create_unique_index takes no WHERE; replies of ours are not in it)
        self.env.cr.execute(
            """CREATE UNIQUE INDEX IF NOT EXISTS sms_marketing_conversation_message_inbound_uniq
                   ON sms_marketing_conversation_message (gateway_id, provider_message_id) WHERE direction = 'in'"""
        )
        # replies per mailing (its figures) and per mailing and number (its A/B versions' figures)
        create_index(
            self.env.cr,
            "sms_marketing_conversation_message_mailing_number_idx",
            self._table,
            ["mailing_id", "number"],
            where="mailing_id IS NOT NULL",
        )
        # the thread: a conversation's messages in order
        create_index(
            self.env.cr, "sms_marketing_conversation_message_thread_idx", self._table, ["conversation_id", "date"]
        )

    @api.depends("direction", "author_id", "conversation_id.name")
    def _compute_sender_name(self):
        # a thread reads as a chat: who wrote each line, not its direction
        for message in self:
            if message.direction == "in":
                message.sender_name = message.conversation_id.name or message.number
            else:
                message.sender_name = message.author_id.name or _("Us")

    def action_open_conversation(self):
        self.ensure_one()
        return self.conversation_id.get_formview_action()

    def _flag_keywords(self, keyword_ids):
        """The keywords among these new messages: applied already, so read and silent."""
        if keyword_ids:
            self.env.cr.execute(
                SQL(
                    """UPDATE sms_marketing_conversation_message SET is_keyword = TRUE, is_read = TRUE
                        WHERE id = ANY(%s)""",
                    keyword_ids,
                )
            )
            self.invalidate_recordset(["is_keyword", "is_read"])

    def _apply_to_conversations(self):
        """Move the conversations of these new inbound messages on: last message, unread count, mailing."""
        if not self:
            return
        self.env.cr.execute(
            SQL(
                """WITH added AS (
                       SELECT conversation_id, count(*) FILTER (WHERE NOT is_read) AS unread,
                              (array_agg(body ORDER BY id DESC))[1] AS body,
                              (array_agg(mailing_id ORDER BY id DESC) FILTER (WHERE mailing_id IS NOT NULL))[1]
                                  AS mailing_id,
                              (array_agg(gateway_id ORDER BY id DESC))[1] AS gateway_id, max(date) AS date
                         FROM sms_marketing_conversation_message WHERE id = ANY(%s) GROUP BY conversation_id)
                   UPDATE sms_marketing_conversation c
                      SET unread_count = c.unread_count + a.unread, last_message = left(a.body, 200),
                          last_message_at = a.date, last_mailing_id = COALESCE(a.mailing_id, c.last_mailing_id),
                          last_gateway_id = a.gateway_id, write_date = a.date
                     FROM added a WHERE c.id = a.conversation_id
                RETURNING c.id, c.unread_count - a.unread, a.unread""",
                self.ids,
            )
        )
        first_unread = [
            conversation_id for conversation_id, before, added in self.env.cr.fetchall() if added and not before
        ]
        self.env["sms.marketing.conversation"].invalidate_model()
        return first_unread

    def _post_on_chatters(self):
        """Post these inbound messages, as notes written by the person, on the chatter of the contacts and
        partners with their number (matched records of models with a chatter).

        What ``message_post`` does for a note (subtype note, internal, no notification), for all the
        messages in one ``create``: a burst of replies is a few queries, not several per message.
        """
        if not self:
            return
        self.env["sms.marketing.conversation.match"].flush_model()
        self.env.cr.execute(
            SQL(
                """SELECT m.id, r.res_model, r.res_id FROM sms_marketing_conversation_message m
                     JOIN sms_marketing_conversation_match r ON r.conversation_id = m.conversation_id
                    WHERE m.id = ANY(%s) ORDER BY m.id, r.res_model, r.res_id""",
                self.ids,
            )
        )
        targets = {}
        for message_id, model_name, res_id in self.env.cr.fetchall():
            if model_name in self.env and "message_ids" in self.env[model_name]._fields:
                targets.setdefault(message_id, []).append((model_name, res_id))
        note = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        vals_list, subjects = [], {}
        for message in self.filtered(lambda m: m.id in targets):
            pairs = targets[message.id]
            # the matched partner, unless it is a user's: a sender number is not proof enough to write
            # a note in an employee's name
            partner_ids = [res_id for model_name, res_id in pairs if model_name == "res.partner"]
            partners = self.env["res.partner"].browse(partner_ids).filtered(lambda p: not p.with_context(
                active_test=False).user_ids)  # fmt: skip
            author = partners[:1].id or False
            sender = f"{message.conversation_id.name} ({message.number})"
            # one per conversation and mailing answered: a burst of replies is not a query per message
            key = (message.conversation_id, message.mailing_id)
            if key not in subjects:
                subjects[key] = message.conversation_id._get_note_subject(message.mailing_id)
            subject = subjects[key]
            body = Markup("<p>%s</p>") % (message.body or "")
            for url in (message.media_urls or "").split():
                body += Markup('<p><a href="%s" target="_blank" rel="noopener noreferrer">%s</a></p>') % (url, url)
            vals_list += [
                {
                    "model": model_name,
                    "res_id": res_id,
                    "body": body,
                    "author_id": author,
                    "email_from": sender,
                    "reply_to": sender,
                    "message_type": "comment",
                    "subtype_id": note,
                    "is_internal": True,
                    "subject": subject,
                    "date": message.date,
                    "message_id": tools.generate_tracking_message_id("sms-reply"),
                    "email_add_signature": False,
                    "record_name": False,  # read from the record when shown: no query per message here
                    "record_alias_domain_id": False,
                    "record_company_id": False,
                }
                for model_name, res_id in pairs
            ]
        self.env["mail.message"].sudo().create(vals_list)  # sudo: the person writes on records they cannot read


class SmsMarketingMailing(models.Model):
    _inherit = "sms.marketing.mailing"  # pylint: disable=consider-merging-classes-inherited

    reply_count = fields.Integer(
        string="Replies", compute="_compute_reply_count", help="SMS received from its recipients (keywords aside)."
    )
    replied_count = fields.Integer(
        string="Replied", compute="_compute_replied", help="Recipients who answered (keywords aside)."
    )
    replied_ratio = fields.Float(string="Replied (%)", compute="_compute_replied", help="Replied / sent.")

    def _get_replies_domain(self):
        """The SMS that answered these mailings: what Replies counts and opens. Replied counts the distinct numbers
        of the same messages in the campaign analysis's SQL (``replied_count``): change both together."""
        return [("mailing_id", "in", self.ids), ("direction", "=", "in"), ("is_keyword", "=", False)]

    def _compute_reply_count(self):
        counts = dict(
            self.env["sms.marketing.conversation.message"]._read_group(
                self._get_replies_domain(), ["mailing_id"], ["__count"]
            )
        )
        for mailing in self:
            mailing.reply_count = counts.get(mailing, 0)

    def _compute_replied(self):
        # the campaign analysis's row of each mailing: the one definition of its figures
        ids = [mailing_id for mailing_id in self.ids if isinstance(mailing_id, int)]
        figures = self.env["sms.marketing.campaign.report"]._get_mailing_figures(ids, ("replied_count", "sent_count"))
        for mailing in self:
            row = figures.get(mailing.id, {})
            mailing.replied_count = row.get("replied_count", 0)
            sent = row.get("sent_count", 0)
            mailing.replied_ratio = 100.0 * mailing.replied_count / sent if sent else 0.0

    def action_view_replies(self):
        """The SMS that answered this mailing, one row each: as many as the Replies button counts."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Replies"),
            "res_model": "sms.marketing.conversation.message",
            "views": [
                (self.env.ref("sms_marketing_custom.sms_marketing_conversation_message_view_tree_replies").id, "tree"),
                (self.env.ref("sms_marketing_custom.sms_marketing_conversation_message_view_form").id, "form"),
            ],
            "domain": self._get_replies_domain(),
            "context": {"create": False, "sms_marketing_replies": True},
        }

    def action_view_repliers(self):
        """The conversations of those who answered this mailing, a keyword aside: one per number, as Replied counts
        them (the figure counts every number; the list shows the conversations the user may read)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("sms_marketing_custom.sms_marketing_conversation_action")
        action["domain"] = [("sms_message_ids", "any", self._get_replies_domain())]
        action["context"] = {}
        return action
