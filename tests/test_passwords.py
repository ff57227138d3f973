from twisted.internet import reactor
from twisted.trial import unittest

from examtwist.passwords import HashCost, PasswordHasher

from tests.support import CHEAP_HASH, deferred_test



class PasswordHasherTests(unittest.TestCase):
    def hasher(self, cost=CHEAP_HASH):
        hasher = PasswordHasher(reactor, cost, threads=2)
        hasher.start()
        self.addCleanup(hasher.stop)
        return hasher

    @deferred_test
    async def test_hash_is_argon2id_with_the_cost_asked(self):
        stored = await self.hasher().hash("secret")
        self.assertTrue(stored.startswith("$argon2id$v=19$m=64,t=1,p=1$"), stored)

    @deferred_test
    async def test_verify(self):
        hasher = self.hasher()
        stored = await hasher.hash(" spaces count ")
        self.assertEqual(await hasher.verify(" spaces count ", stored), (True, None))
        self.assertEqual(await hasher.verify("spaces count", stored), (False, None))

    @deferred_test
    async def test_unknown_account_spends_a_verify(self):
        """No account: still one argon2 verify, against a dummy hash, and never a match."""
        hasher = self.hasher()
        self.assertIsNone(hasher._dummy)
        self.assertEqual(await hasher.verify("no such user", None), (False, None))
        self.assertTrue(hasher._dummy.startswith("$argon2id$"))

    @deferred_test
    async def test_rehash_when_settings_changed(self):
        """A hash made with other settings matches, and comes back remade with these."""
        old = await self.hasher(HashCost(memory_kib=128, rounds=2)).hash("pw")
        ok, new = await self.hasher().verify("pw", old)
        self.assertTrue(ok)
        self.assertTrue(new.startswith("$argon2id$v=19$m=64,t=1,p=1$"))
        self.assertEqual(await self.hasher().verify("pw", new), (True, None))

    @deferred_test
    async def test_corrupt_hash_is_a_mismatch(self):
        self.assertEqual(await self.hasher().verify("pw", "not a hash"), (False, None))

    def test_cost_limits(self):
        self.assertRaises(ValueError, HashCost, memory_kib=4)
        self.assertRaises(ValueError, HashCost, rounds=0)
