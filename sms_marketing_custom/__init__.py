from . import controllers, models, wizard


def uninstall_hook(env):
    """The engagement filters of the models an administrator enabled have no XML id: removed here."""
    models.sms_marketing_engagement.remove_engagement_field_rows(env.cr)
