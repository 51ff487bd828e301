from . import inbound, links, status
