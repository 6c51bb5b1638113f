/*
 * dict.c — the dict proxy: one function per method of the server's dict type (t_dict.c).
 */
#include "client.h"

static int dict_call(mpx_proxy *d, const char *method, const mpx_value *const *items, size_t n,
                     mpx_value **out)
{
    int rc = mpx__proxy_check(d, "dict");
    if (rc) return rc;
    for (size_t i = 0; i < n; i++)
        if (!items[i]) return mpx__fail(MPX_EINVAL, "dict.%s: a NULL key or value", method);
    return mpx__call_items(d, method, items, n, MPX_TIMEOUT_DEFAULT, out);
}

int mpx_dict_open(mpx_client *c, const char *name, mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_dict_open: no name");
    return mpx__proxy_open(c, name, "dict", NULL, out);
}

int mpx_dict_new(mpx_client *c, mpx_proxy **out)
{
    return mpx__proxy_open(c, NULL, "dict", NULL, out);
}

int mpx_dict_set(mpx_proxy *d, const mpx_value *key, const mpx_value *val)
{
    const mpx_value *items[] = {key, val};
    return dict_call(d, "set", items, 2, NULL);
}

int mpx_dict_get(mpx_proxy *d, const mpx_value *key, mpx_value **out)
{
    const mpx_value *items[] = {key};
    return out ? dict_call(d, "get", items, 1, out) : mpx__fail(MPX_EINVAL, "no out argument");
}

int mpx_dict_get_default(mpx_proxy *d, const mpx_value *key, const mpx_value *dflt, mpx_value **out)
{
    const mpx_value *items[] = {key, dflt};
    return out ? dict_call(d, "get", items, 2, out) : mpx__fail(MPX_EINVAL, "no out argument");
}

int mpx_dict_del(mpx_proxy *d, const mpx_value *key)
{
    const mpx_value *items[] = {key};
    return dict_call(d, "delete", items, 1, NULL);
}

int mpx_dict_contains(mpx_proxy *d, const mpx_value *key, bool *out)
{
    const mpx_value *items[] = {key};
    int rc = mpx__proxy_check(d, "dict");
    if (rc) return rc;
    if (!key) return mpx__fail(MPX_EINVAL, "dict.contains: a NULL key");
    return mpx__call_bool(d, "contains", items, 1, MPX_TIMEOUT_DEFAULT, out);
}

int mpx_dict_len(mpx_proxy *d, size_t *out)
{
    int rc = mpx__proxy_check(d, "dict");
    return rc ? rc : mpx__call_size(d, "len", out);
}

int mpx_dict_keys(mpx_proxy *d, mpx_value **out)
{
    return out ? dict_call(d, "keys", NULL, 0, out) : mpx__fail(MPX_EINVAL, "no out argument");
}

int mpx_dict_values(mpx_proxy *d, mpx_value **out)
{
    return out ? dict_call(d, "values", NULL, 0, out) : mpx__fail(MPX_EINVAL, "no out argument");
}

int mpx_dict_items(mpx_proxy *d, mpx_value **out)
{
    return out ? dict_call(d, "items", NULL, 0, out) : mpx__fail(MPX_EINVAL, "no out argument");
}

int mpx_dict_update(mpx_proxy *d, const mpx_value *pairs)
{
    const mpx_value *items[] = {pairs};
    mpx_type t = mpx_value_type(pairs);
    if (!pairs || (t != MPX_MAP && t != MPX_ARRAY))
        return mpx__fail(MPX_EINVAL, "dict.update: a map or an array of pairs");
    return dict_call(d, "update", items, 1, NULL);
}

int mpx_dict_pop(mpx_proxy *d, const mpx_value *key, mpx_value **out)
{
    const mpx_value *items[] = {key};
    return dict_call(d, "pop", items, 1, out);
}

int mpx_dict_pop_default(mpx_proxy *d, const mpx_value *key, const mpx_value *dflt, mpx_value **out)
{
    const mpx_value *items[] = {key, dflt};
    return dict_call(d, "pop", items, 2, out);
}

int mpx_dict_popitem(mpx_proxy *d, mpx_value **key, mpx_value **val)
{
    mpx_value *pair = NULL;
    if (!key || !val) return mpx__fail(MPX_EINVAL, "dict.popitem: key and val are required");
    int rc = dict_call(d, "popitem", NULL, 0, &pair);
    if (rc == 0 && (mpx_value_type(pair) != MPX_ARRAY || mpx_value_len(pair) != 2))
        rc = mpx__fail(MPX_EPROTO, "dict.popitem: unexpected result");
    if (rc == 0) {
        *key = mpx__value_take(pair, 0); /* taken, so that the references they hold go along */
        *val = mpx__value_take(pair, 1);
        if (!*key || !*val) {
            mpx_value_free(key);
            mpx_value_free(val);
            rc = mpx__fail(MPX_ENOMEM, "out of memory");
        }
    }
    mpx_value_free(&pair);
    return rc;
}

int mpx_dict_setdefault(mpx_proxy *d, const mpx_value *key, const mpx_value *dflt, mpx_value **out)
{
    const mpx_value *items[] = {key, dflt};
    return dict_call(d, "setdefault", items, dflt ? 2 : 1, out);
}

int mpx_dict_clear(mpx_proxy *d)
{
    return dict_call(d, "clear", NULL, 0, NULL);
}

int mpx_dict_copy(mpx_proxy *d, mpx_value **out)
{
    return out ? dict_call(d, "copy", NULL, 0, out) : mpx__fail(MPX_EINVAL, "no out argument");
}

int mpx_dict_scan(mpx_proxy *d, uint64_t cursor, size_t count, uint64_t *next, mpx_value **pairs)
{
    if (!next || !pairs || count == 0)
        return mpx__fail(MPX_EINVAL, "mpx_dict_scan: count >= 1, next and pairs");
    mpx_value *vc = mpx_uint(cursor), *vn = mpx_uint(count), *res = NULL;
    const mpx_value *items[] = {vc, vn};
    int rc =
        vc && vn ? dict_call(d, "scan", items, 2, &res) : mpx__fail(MPX_ENOMEM, "out of memory");
    if (rc == 0 && (mpx_value_len(res) != 2 || mpx_value_get_uint(mpx_value_at(res, 0), next) ||
                    mpx_value_type(mpx_value_at(res, 1)) != MPX_ARRAY))
        rc = mpx__fail(MPX_EPROTO, "dict.scan: unexpected result");
    if (rc == 0 && !(*pairs = mpx__value_take(res, 1))) rc = mpx__fail(MPX_ENOMEM, "out of memory");
    mpx_value_free(&vc);
    mpx_value_free(&vn);
    mpx_value_free(&res);
    return rc;
}

int mpx_dict_add(mpx_proxy *d, const mpx_value *key, const mpx_value *delta, mpx_value **out)
{
    const mpx_value *items[] = {key, delta};
    return dict_call(d, "add", items, 2, out);
}

int mpx_dict_add_int(mpx_proxy *d, const mpx_value *key, int64_t delta, int64_t *now)
{
    mpx_value *dv = mpx_int(delta), *res = NULL;
    if (!dv) return mpx__fail(MPX_ENOMEM, "out of memory");
    const mpx_value *items[] = {key, dv};
    int rc = dict_call(d, "add", items, 2, &res);
    mpx_value_free(&dv);
    if (rc == 0 && now && mpx_value_get_int(res, now))
        rc = mpx__fail(MPX_EPROTO, "dict.add: the result is not an integer");
    mpx_value_free(&res);
    return rc;
}

/* [v] for a value, [] for NULL (absent). */
static mpx_value *opt_make(const mpx_value *v)
{
    mpx_value *a = mpx_array(), *c = v ? mpx_value_copy(v) : NULL;
    if (a && (!v || (c && mpx_array_push(a, &c) == 0))) return a;
    mpx_value_free(&a);
    mpx_value_free(&c);
    return NULL;
}

int mpx_dict_cas(mpx_proxy *d, const mpx_value *key, const mpx_value *expected,
                 const mpx_value *val, bool *swapped, mpx_value **current)
{
    mpx_value *want = opt_make(expected), *put = opt_make(val), *res = NULL;
    const mpx_value *items[] = {key, want, put};
    int rc =
        want && put ? dict_call(d, "cas", items, 3, &res) : mpx__fail(MPX_ENOMEM, "out of memory");
    if (rc == 0) rc = mpx__cas_result(res, true, swapped, current);
    mpx_value_free(&want);
    mpx_value_free(&put);
    mpx_value_free(&res);
    return rc;
}

int mpx_dict_getset(mpx_proxy *d, const mpx_value *key, const mpx_value *val, mpx_value **old)
{
    const mpx_value *items[] = {key, val};
    mpx_value *res = NULL;
    int rc = dict_call(d, "getset", items, 2, &res);
    mpx_value *prev = NULL;
    if (rc == 0) rc = mpx__opt_take(res, &prev);
    if (rc == 0 && old)
        *old = prev;
    else
        mpx_value_free(&prev);
    mpx_value_free(&res);
    return rc;
}
