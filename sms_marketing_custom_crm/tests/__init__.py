from . import test_leads
