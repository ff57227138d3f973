"""
Password hashing: argon2id at the cost asked for, off the reactor, and the same work whether
or not the account exists.
"""

from twisted.internet import reactor
from twisted.trial import unittest

from examtwist.passwords import HashCost, PasswordHasher

from tests.support import CHEAP_HASH


def shape(stored: str) -> tuple[str, int, int]:
    """An argon2 hash as its settings, then the lengths of its salt and its digest."""
    settings, salt, digest = stored.rsplit("$", 2)
    return settings, len(salt), len(digest)


class PasswordHasherTests(unittest.TestCase):
    def hasher(self, cost=CHEAP_HASH):
        hasher = PasswordHasher(reactor, cost, threads=2)
        hasher.start()
        self.addCleanup(hasher.stop)
        return hasher

    async def test_hash_is_argon2id_with_the_cost_asked(self):
        """
        If a password is hashed at 64 KiB and 1 round, then the hash is argon2id v19 with
        m=64,t=1,p=1, a 16-byte salt and a 32-byte digest (22 and 43 characters).
        """
        stored = await self.hasher().hash("secret")
        self.assertEqual(shape(stored), ("$argon2id$v=19$m=64,t=1,p=1", 22, 43))

    async def test_verify(self):
        """
        If " spaces count " is hashed, then it matches itself, and "spaces count" (no spaces
        around it) does not; neither needs a new hash.
        """
        hasher = self.hasher()
        stored = await hasher.hash(" spaces count ")
        self.assertEqual(await hasher.verify(" spaces count ", stored), (True, None))
        self.assertEqual(await hasher.verify("spaces count", stored), (False, None))

    async def test_unknown_account_spends_a_verify(self):
        """
        If there is no account, then the verify still runs argon2id once, against a dummy
        hash made for it at the same cost, and never matches.
        """
        hasher = self.hasher()
        self.assertIsNone(hasher._dummy)
        self.assertEqual(await hasher.verify("no such user", None), (False, None))
        self.assertEqual(shape(hasher._dummy), ("$argon2id$v=19$m=64,t=1,p=1", 22, 43))

    async def test_rehash_only_upwards(self):
        """
        If a hash was made at 64 KiB and 1 round, then a server at 128 KiB and 2 rounds finds
        it matches and remakes it with m=128,t=2,p=1, which then matches with no new hash; and
        a server at the cheaper cost matches that stronger hash and leaves it as it is (None):
        hashes are upgraded, never downgraded.
        """
        old = await self.hasher().hash("pw")
        self.assertEqual(shape(old), ("$argon2id$v=19$m=64,t=1,p=1", 22, 43))
        stronger = self.hasher(HashCost(memory_kib=128, rounds=2))
        ok, new = await stronger.verify("pw", old)
        self.assertEqual((ok, shape(new)), (True, ("$argon2id$v=19$m=128,t=2,p=1", 22, 43)))
        self.assertEqual(await stronger.verify("pw", new), (True, None))
        self.assertEqual(await self.hasher().verify("pw", new), (True, None))
        self.assertEqual(await self.hasher().verify("wrong", new), (False, None))

    async def test_mixed_costs_are_not_remade(self):
        """
        If a hash was made at 128 KiB and 1 round, then a server at 64 KiB and 2 rounds keeps
        it (None): it is not weaker in every way, and would lose memory hardness.
        """
        old = await self.hasher(HashCost(memory_kib=128, rounds=1)).hash("pw")
        self.assertEqual(await self.hasher(HashCost(memory_kib=64, rounds=2)).verify("pw", old),
                         (True, None))

    async def test_corrupt_hash_is_a_mismatch(self):
        """If the stored hash is "not a hash", then the verify is a mismatch, not an error."""
        self.assertEqual(await self.hasher().verify("pw", "not a hash"), (False, None))

    def test_cost_limits(self):
        """If a cost asks for 4 KiB or 0 rounds, then it is refused, saying what argon2 needs."""
        with self.assertRaises(ValueError) as memory:
            HashCost(memory_kib=4)
        with self.assertRaises(ValueError) as rounds:
            HashCost(rounds=0)
        self.assertEqual([str(memory.exception), str(rounds.exception)],
                         ["argon2 needs at least 8 KiB of memory", "argon2 needs at least 1 round"])
