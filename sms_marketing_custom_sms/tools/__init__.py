from . import sms_api
