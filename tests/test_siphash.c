/*
 * test_siphash.c — mpxd's SipHash (server/siphash.c): the shared code with 2-4 rounds against
 * libsodium, with 1-3 rounds against CPython's hash of bytes, and the vector lanes against
 * the one-message code.
 */
#include <sodium.h>
#include <string.h>

#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "hash.h"
#include "siphash.h"

/* With 2-4 rounds the code is plain SipHash, which libsodium implements: the reference
 * vectors' key and messages (00 01 02 ...), then random keys and lengths, cover every tail
 * length and several blocks. */
static void test_siphash24_matches_libsodium(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    uint8_t key[MPX_SIPHASH_KEYBYTES], msg[200], out[crypto_shorthash_BYTES];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)i;
    for (int round = 0; round < 20; round++) {
        mpx__sipkey k;
        mpx__sipkey_set(&k, key);
        for (size_t len = 0; len <= sizeof msg; len++) {
            uint64_t want;
            crypto_shorthash(out, msg, len, key);
            memcpy(&want, out, sizeof want); /* little-endian, as on every target */
            assert_int_equal(mpx__siphash24(&k, msg, len), want);
        }
        randombytes_buf(key, sizeof key);
        randombytes_buf(msg, sizeof msg);
    }
}

/* CPython (3.11 and later) hashes bytes with SipHash-1-3, and PYTHONHASHSEED=0 makes its key
 * all zeros. These are hash(bytes(range(n))) for n = 1..17, from
 *   PYTHONHASHSEED=0 python3 -c 'print([hash(bytes(range(n))) % 2**64 for n in range(1, 18)])'
 * plus hash(b"siphash"). */
static void test_siphash13_matches_cpython(void **state)
{
    (void)state;
    static const uint64_t want[17] = {
        0x68a914128e01e473ull, 0x010bac45c41e3669ull, 0x4d4c9a4a8ef6e0adull, 0x7cc43f98813e4dbdull,
        0x5abe2169dff36275ull, 0xe3c25f87624f1cdbull, 0x2f098ab0c751325aull, 0xead411e67ebe2eeaull,
        0x75927f9d95124362ull, 0xaf9f77a65ab51a1dull, 0xfe64ce8b6617fcffull, 0xa6baf4fb0f9fe1c2ull,
        0xa0cf3211850f8e0dull, 0x7f86049379fbfe67ull, 0xf30eb725bb91c9eaull, 0x8972188433a5c5b7ull,
        0x4883c49a2c009c1dull,
    };
    static const uint8_t zero[MPX_SIPHASH_KEYBYTES] = {0};
    uint8_t msg[17];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)i;
    mpx__sipkey k;
    mpx__sipkey_set(&k, zero);
    for (size_t n = 1; n <= 17; n++)
        assert_int_equal(mpx__siphash13(&k, msg, n), want[n - 1]);
    assert_int_equal(mpx__siphash13(&k, "siphash", 7), 0x8264ceeccb16bcbeull);
}

/* Hashing many messages at once gives each the hash it has alone: groups of one length and
 * of mixed lengths (so lanes finish after different numbers of words), lengths past the
 * lanes' 31 bytes (hashed one by one), and a count that leaves a partial group. */
static void test_siphash13_many_matches_one_by_one(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    enum { N = 203, MAX_LEN = 40 };
    static uint8_t msgs[N][MAX_LEN];
    const uint8_t *in[N];
    size_t len[N];
    uint64_t out[N];
    mpx__sipkey k;
    mpx__sipkey_random(&k);
    randombytes_buf(msgs, sizeof msgs);
    for (int pattern = 0; pattern < 3; pattern++) {
        for (size_t i = 0; i < N; i++) {
            in[i] = msgs[i];
            /* one length per group of 8; every length up to 31 mixed; up to 40 mixed */
            len[i] = pattern == 0   ? (i / 8) % 32
                     : pattern == 1 ? (i * 7) % 32
                                    : randombytes_uniform(MAX_LEN + 1);
        }
        mpx__siphash13_many(&k, N, in, len, out);
        for (size_t i = 0; i < N; i++)
            assert_int_equal(out[i], mpx__siphash13(&k, in[i], len[i]));
    }
}

/* Every mpxd table (object names, routing ids) hashes under a key of its own process: the
 * same names hash apart in two processes, so nobody can choose names that collide. */
static void test_table_hash_is_keyed_per_process(void **state)
{
    (void)state;
    static const char name[] = "a name a client chose";
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        uint32_t h = mpx__table_hash(name, sizeof name);
        _exit(write(fds[1], &h, sizeof h) == sizeof h ? 0 : 1);
    }
    uint32_t theirs = 0, mine = mpx__table_hash(name, sizeof name);
    assert_int_equal(read(fds[0], &theirs, sizeof theirs), (int)sizeof theirs);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(mpx__table_hash(name, sizeof name), mine); /* stable within a process */
    assert_int_not_equal(theirs, mine);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash24_matches_libsodium),
        cmocka_unit_test(test_siphash13_matches_cpython),
        cmocka_unit_test(test_siphash13_many_matches_one_by_one),
        cmocka_unit_test(test_table_hash_is_keyed_per_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
