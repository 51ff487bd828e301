"""The database of a deployed run (bench/deployed.py, bench/history.py): one owner for its setup.

A fresh database of our module (``bench.fresh_db``), the audience of N contacts seeded in a new list
(``sides``), and at the end its registry closed and the database dropped (``bench.release_db``).
"""

import contextlib

from sides import SIDES

import bench


@contextlib.contextmanager
def seeded_db(aud):
    """-> (db, registry, list_id): a fresh database with ``aud`` seeded in a list; released at the end."""
    import odoo
    from odoo import SUPERUSER_ID, api

    side = SIDES["ours"]
    db = bench.fresh_db(side, aud.n)
    registry = odoo.modules.registry.Registry(db)
    try:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            list_id = side.create_list(env)
            side.seed(cr, aud, list_id)
        yield db, registry, list_id
    finally:
        bench.release_db(db)


def create_mailing(registry, list_id, aud):
    """A mailing of the bench's body to the list (not sent) -> its id."""
    from odoo import SUPERUSER_ID, api

    with registry.cursor() as cr:
        return SIDES["ours"].create_mailing(api.Environment(cr, SUPERUSER_ID, {}), list_id, aud)
