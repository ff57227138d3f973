-- Schema 5: usernames are unique ignoring case (protocol 1.1: REGISTER of `Ada` when `ada`
-- exists is 553). LOGIN still matches the name exactly. Accounts made before, under version
-- 1's rules, may differ only in case: the oldest of each such group holds the folded name,
-- the others keep logging in as they always did.

ALTER TABLE users ADD COLUMN username_folded TEXT;

UPDATE users SET username_folded = lower(username)
    WHERE id IN (SELECT min(id) FROM users GROUP BY lower(username));

CREATE UNIQUE INDEX users_username_folded ON users (username_folded);
