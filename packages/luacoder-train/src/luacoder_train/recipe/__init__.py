"""Recipes: the YAML schema every trainer shares, keys renamed by transformers/TRL, and the
checks that name a setting this machine cannot honour before anything is loaded."""
