from . import test_journey_utm, test_revenue, test_translations, test_utm_links
