from . import controllers, models, wizard


def uninstall_hook(env):
    """The engagement filters of the models an administrator enabled have no XML id: removed here; and the
    mailings' counters (a table and trigger functions of no model), the traces' trigger function, and the
    functions that keep the engagement summary."""
    models.sms_marketing_engagement.remove_engagement_field_rows(env.cr)
    models.sms_marketing_campaign_report.drop_counters(env.cr)
    models.sms_marketing_trace.drop_trace_functions(env.cr)
    models.sms_marketing_engagement_summary.drop_engagement_summary(env.cr)
