-- Schema 9: what the teacher's pages count, cheap to read while an exam writes.
--
-- How often each choice of each question of a test was chosen (by the stored letter meant),
-- and how many of those answers were correct. Every answer the store writes adds to its row in
-- the same transaction (storage/answercounts.py), so the teacher's page reads a few rows here
-- instead of every answer of the test.
CREATE TABLE answer_counts (
        test_id {bigint} NOT NULL REFERENCES tests (id),
        position INTEGER NOT NULL,
        meant TEXT NOT NULL CHECK (meant IN ('A', 'B', 'C', 'D')),
        chosen {bigint} NOT NULL,
        correct {bigint} NOT NULL,
        PRIMARY KEY (test_id, position, meant)
    );

-- The answers stored before this version.
INSERT INTO answer_counts (test_id, position, meant, chosen, correct)
    SELECT attempts.test_id, answers.position, answers.meant, count(*), sum(answers.correct)
    FROM answers JOIN attempts ON attempts.id = answers.attempt_id
    GROUP BY attempts.test_id, answers.position, answers.meant;

-- A test's attempts counted by outcome, with their grades (counts, mean, median, histogram),
-- read from the index alone; and the latest that ended.
CREATE INDEX attempts_test_outcome_grade ON attempts (test_id, outcome, grade);
CREATE INDEX attempts_test_finished ON attempts (test_id, finished_at);
