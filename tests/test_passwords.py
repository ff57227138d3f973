from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred
from twisted.trial import unittest

from examtwist.passwords import HashCost, PasswordHasher

CHEAP = HashCost(memory_kib=64, rounds=1)


class PasswordHasherTests(unittest.TestCase):
    def hasher(self, cost=CHEAP):
        hasher = PasswordHasher(reactor, cost, threads=2)
        hasher.start()
        self.addCleanup(hasher.stop)
        return hasher

    def test_hash_is_argon2id_with_the_cost_asked(self):
        async def go():
            stored = await self.hasher().hash("secret")
            self.assertTrue(stored.startswith("$argon2id$v=19$m=64,t=1,p=1$"), stored)
        return ensureDeferred(go())

    def test_verify(self):
        async def go():
            hasher = self.hasher()
            stored = await hasher.hash(" spaces count ")
            self.assertEqual(await hasher.verify(" spaces count ", stored), (True, None))
            self.assertEqual(await hasher.verify("spaces count", stored), (False, None))
        return ensureDeferred(go())

    def test_unknown_account_spends_a_verify(self):
        """No account: still one argon2 verify, against a dummy hash, and never a match."""
        async def go():
            hasher = self.hasher()
            self.assertIsNone(hasher._dummy)
            self.assertEqual(await hasher.verify("no such user", None), (False, None))
            self.assertTrue(hasher._dummy.startswith("$argon2id$"))
        return ensureDeferred(go())

    def test_rehash_when_settings_changed(self):
        """A hash made with other settings matches, and comes back remade with these."""
        async def go():
            old = await self.hasher(HashCost(memory_kib=128, rounds=2)).hash("pw")
            ok, new = await self.hasher().verify("pw", old)
            self.assertTrue(ok)
            self.assertTrue(new.startswith("$argon2id$v=19$m=64,t=1,p=1$"))
            self.assertEqual(await self.hasher().verify("pw", new), (True, None))
        return ensureDeferred(go())

    def test_corrupt_hash_is_a_mismatch(self):
        async def go():
            self.assertEqual(await self.hasher().verify("pw", "not a hash"), (False, None))
        return ensureDeferred(go())

    def test_cost_limits(self):
        self.assertRaises(ValueError, HashCost, memory_kib=4)
        self.assertRaises(ValueError, HashCost, rounds=0)
