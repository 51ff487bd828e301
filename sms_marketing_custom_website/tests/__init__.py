from . import test_click_everywhere, test_signup_limits, test_signup_routes, test_signup_tour, test_translations
