from . import test_click_everywhere, test_revenue, test_utm_links
