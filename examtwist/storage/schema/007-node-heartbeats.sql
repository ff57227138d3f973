-- Schema 7: each server (node) says, every few seconds, that it is alive. An attempt held by a
-- connection of a node that has stopped saying so (killed, or its machine gone) counts as
-- suspended since the node was last seen, so the resume window can end it.
--   node: the first part of an attempt's holder, before the "/".
--   dead_after: when the node counts as gone unless it has spoken again.

CREATE TABLE nodes (
        node TEXT PRIMARY KEY,
        seen_at TEXT NOT NULL,
        dead_after TEXT NOT NULL
    );
