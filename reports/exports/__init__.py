"""File formats of the daily charge report and the export batches (issue 6).

Every writer takes plain report rows (`reports.rows.ReportRow` dicts, see `reports.rows.COLUMNS`),
never model instances, so the formats are tested without a database and the selectors decide
alone what a row holds (and how much PHI: exactly the columns of the report spec, REL-05).
"""
