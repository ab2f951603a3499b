"""What other apps may learn from consent without consent depending on them."""

from django.dispatch import Signal

# Sent inside the transaction that recorded consent choices, with `subject_ids` (the leads)
# and `purpose_keys` (the purposes chosen about). Scoring listens: a grant or withdrawal of
# profiling changes what a lead's score may read.
consents_recorded = Signal()

# Sent inside the transaction that changed a purpose's names, legal basis or flags, with
# `purpose_id` and `changes` (field -> [before, after]). Scoring listens: whether profiling
# rests on consent decides what every lead's score may read.
purpose_changed = Signal()
