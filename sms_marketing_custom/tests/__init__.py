from . import (
    test_gateway,
    test_install,
    test_mailing_test_wizard,
    test_sending,
    test_sending_concurrency,
    test_status_webhook,
)
