"""Documents: КП (proposal), Договор (contract), Счёт (invoice) as HTML preview and PDF."""
