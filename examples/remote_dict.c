/*
 * remote_dict.c — connect to an mpxd elsewhere by endpoint and authkey file, and read and
 * write a named dict that every client of that server shares.
 *
 *   remote_dict tcp://server:5555 /path/to/authkey [dict-name]
 *
 * Run it twice: the second run sees the visit count the first one left.
 */
#include <stdio.h>
#include <stdlib.h>

#include <mpx.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "remote_dict: %s: %s (%s)\n", what, mpx_strerror(rc), mpx_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s ENDPOINT AUTHKEY-FILE [DICT-NAME]\n", argv[0]);
        return 2;
    }
    const char *name = argc > 3 ? argv[3] : "remote_dict.demo";
    mpx_client *client = NULL;
    mpx_proxy *d = NULL;
    int rc = mpx_connect_keyfile(argv[1], argv[2], &client);
    if (rc) return fail("connect", rc);
    if ((rc = mpx_dict_open(client, name, &d)) != 0) return fail("open the dict", rc);

    /* visits = d.get("visits", 0) + 1; d["visits"] = visits */
    mpx_value *key = mpx_str("visits"), *zero = mpx_uint(0), *count = NULL;
    rc = mpx_dict_get_default(d, key, zero, &count);
    uint64_t visits = 0;
    if (rc == 0) mpx_value_get_uint(count, &visits);
    mpx_value *next = mpx_uint(++visits);
    if (rc == 0) rc = mpx_dict_set(d, key, next);

    /* d.update({"last": "remote_dict", "tags": ["demo", 42]}) */
    mpx_value *pairs = mpx_map(), *k = mpx_str("last"), *v = mpx_str("remote_dict");
    mpx_map_put(pairs, &k, &v);
    mpx_value *tags = mpx_array(), *t1 = mpx_str("demo"), *t2 = mpx_int(42);
    mpx_array_push(tags, &t1);
    mpx_array_push(tags, &t2);
    k = mpx_str("tags");
    mpx_map_put(pairs, &k, &tags);
    if (rc == 0) rc = mpx_dict_update(d, pairs);

    size_t len = 0;
    if (rc == 0) rc = mpx_dict_len(d, &len);
    if (rc == 0)
        printf("dict '%s' on %s: visits=%llu, %zu keys\n", name, argv[1],
               (unsigned long long)visits, len);
    else
        fail("dict call", rc);

    mpx_value_free(&key);
    mpx_value_free(&zero);
    mpx_value_free(&count);
    mpx_value_free(&next);
    mpx_value_free(&pairs);
    mpx_proxy_free(&d);
    mpx_client_free(&client);
    return rc ? 1 : 0;
}
