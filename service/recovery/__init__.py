"""Recovery: decide what to do about a failed or unwanted migration, and do it."""
