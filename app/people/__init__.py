"""People: staff and patients, their keys, authentication, the audit chain, data governance."""
