"""What other apps may learn from consent without consent depending on them."""

from django.dispatch import Signal

# Sent inside the transaction that recorded consent choices, with `subject_ids` (the leads)
# and `purpose_keys` (the purposes chosen about). Scoring listens: a grant or withdrawal of
# profiling changes what a lead's score may read.
consents_recorded = Signal()
