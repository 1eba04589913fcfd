"""The clinic's alerting: raising an alert, delivering its notifications, escalating."""
