from . import inbound, links
