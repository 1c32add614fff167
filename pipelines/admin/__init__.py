"""What the admin API and pages do, as plain functions over a sync ``Session`` (testable without a web server)."""
