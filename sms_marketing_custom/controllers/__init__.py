from . import links, webhooks
