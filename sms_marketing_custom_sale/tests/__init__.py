from . import test_click_everywhere, test_journey_utm, test_revenue, test_translations, test_utm_links
