"""The help a list shows when it has nothing to show.

A list opened from a figure ("Failed 0", "0 Mailings") that shows nothing but has a view with
``sample="1"`` fills itself with made-up rows; with a help, Odoo shows the help over them, faded,
as on every empty screen of Odoo. Every action that opens such a view carries one.
"""

from markupsafe import Markup


def empty_view_help(title, detail):
    """Odoo's empty-screen help: a title and a sentence (both plain text, escaped here)."""
    return Markup('<p class="o_view_nocontent_empty_folder">%s</p><p>%s</p>') % (title, detail)
