from . import status
from . import inbound, links
