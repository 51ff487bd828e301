# sms_marketing_subscription first: its table is also the relation table of the
# contacts' and lists' many2many fields, so it must be created by its own model.
from . import sms_marketing_subscription  # isort:skip

# the engagement mixin before the models that inherit it (contacts, partners)
from . import sms_marketing_engagement  # isort:skip
from . import (
    ir_fields_converter,
    ir_model,
    res_company,
    res_config_settings,
    res_country,
    res_partner,
    sms_marketing_audience,
    sms_marketing_blacklist,
    sms_marketing_campaign,
    sms_marketing_consent,
    sms_marketing_contact,
    sms_marketing_credit_move,
    sms_marketing_demo,
    sms_marketing_engine,
    sms_marketing_engine_build,
    sms_marketing_engine_ledger,
    sms_marketing_engine_reconcile,
    sms_marketing_engine_record,
    sms_marketing_engine_send,
    sms_marketing_gateway,
    sms_marketing_gateway_price,
    sms_marketing_gateway_route,
    sms_marketing_join_request,
    sms_marketing_journey,
    sms_marketing_journey_demo,
    sms_marketing_journey_participant,
    sms_marketing_journey_step,
    sms_marketing_link,
    sms_marketing_link_click,
    sms_marketing_list,
    sms_marketing_mailing,
    sms_marketing_mailing_ab,
    sms_marketing_mailing_price,
    sms_marketing_mailing_state,
    sms_marketing_mailing_variant,
    sms_marketing_recipient_model,
    sms_marketing_reply,
    sms_marketing_template,
    sms_marketing_trace,
    sms_marketing_trace_retention,
    sms_marketing_webhook_replay,
)

# after the mailing, which it extends (its replies)
from . import sms_marketing_conversation  # isort:skip

# after the clicks, the traces and the mailings: its triggers are on their tables
from . import sms_marketing_engagement_summary  # isort:skip

# last: its SQL view and counters read the tables of the mailings, traces and clicks, created before it
# (no other module may import it: importing defines its model earlier, before those tables exist)
from . import sms_marketing_campaign_report  # isort:skip
