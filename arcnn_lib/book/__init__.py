"""The book's helpers: a chapter's setup cell and its trained-once models
(:mod:`.notebook`), and its drawn diagrams (:mod:`.diagrams`)."""
