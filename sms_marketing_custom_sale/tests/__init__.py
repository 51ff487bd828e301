from . import test_revenue, test_utm_links
