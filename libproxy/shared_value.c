/*
 * shared_value.c — the Value and Array proxies (mpx_val_*, mpx_arr_*): the server's value,
 * typed_value (t_value.c, t_typed_value.c) and array (t_array.c) types.
 */
#include <string.h>

#include "client.h"

/* ---- results of read-modify-write calls ---------------------------------------------------- */
/* Parts of a result are taken out of it, not copied, so that the references they claimed
 * (internal.h) go along. */

int mpx__opt_take(mpx_value *opt, mpx_value **out)
{
    *out = NULL;
    if (mpx_value_type(opt) != MPX_ARRAY || mpx_value_len(opt) > 1)
        return mpx__fail(MPX_EPROTO, "unexpected result: not [value] or []");
    if (mpx_value_len(opt) == 1 && !(*out = mpx__value_take(opt, 0)))
        return mpx__fail(MPX_ENOMEM, "out of memory");
    return 0;
}

int mpx__cas_result(mpx_value *res, bool optional, bool *swapped, mpx_value **current)
{
    bool s = false;
    if (mpx_value_type(res) != MPX_ARRAY || mpx_value_len(res) != 2 ||
        mpx_value_get_bool(mpx_value_at(res, 0), &s))
        return mpx__fail(MPX_EPROTO, "cas: unexpected result");
    mpx_value *cur = NULL, *c = mpx__value_take(res, 1);
    int rc = !c ? MPX_ENOMEM : optional ? mpx__opt_take(c, &cur) : 0;
    if (!optional) cur = c, c = NULL;
    mpx_value_free(&c);
    if (rc) return rc == MPX_ENOMEM ? mpx__fail(rc, "out of memory") : rc;
    if (swapped) *swapped = s;
    if (current)
        *current = cur;
    else
        mpx_value_free(&cur);
    return 0;
}

static int to_int(int rc, mpx_value **v, int64_t *out)
{
    if (rc == 0 && out && mpx_value_get_int(*v, out))
        rc = mpx__fail(MPX_EPROTO, "add: the result is not an integer");
    mpx_value_free(v);
    return rc;
}

/* ---- Value ------------------------------------------------------------------------------------
 */

static int val_check(mpx_proxy *v, bool typed_only)
{
    int rc = mpx__proxy_check(v, NULL);
    if (rc) return rc;
    const char *t = mpx_proxy_type(v);
    if (strcmp(t, "typed_value") != 0 && (typed_only || strcmp(t, "value") != 0))
        return mpx__fail(MPX_EINVAL, "the proxy is a %s, not a %s", t,
                         typed_only ? "typed value" : "value");
    return 0;
}

static int val_make(mpx_client *c, const char *name, const char *typecode, const mpx_value *init,
                    mpx_proxy **out)
{
    mpx_value *args[2];
    size_t n = 0;
    if (typecode) args[n++] = mpx_strn(typecode, 1);
    if (init) args[n++] = mpx_value_copy(init);
    return mpx__proxy_open_args(c, name, typecode ? "typed_value" : "value", args, n, out);
}

int mpx_val_new(mpx_client *c, const mpx_value *init, mpx_proxy **out)
{
    return val_make(c, NULL, NULL, init, out);
}

int mpx_val_open(mpx_client *c, const char *name, const mpx_value *init, mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_val_open: no name");
    return val_make(c, name, NULL, init, out);
}

int mpx_val_new_typed(mpx_client *c, char typecode, const mpx_value *init, mpx_proxy **out)
{
    return val_make(c, NULL, &typecode, init, out);
}

int mpx_val_open_typed(mpx_client *c, const char *name, char typecode, const mpx_value *init,
                       mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_val_open_typed: no name");
    return val_make(c, name, &typecode, init, out);
}

int mpx_val_get(mpx_proxy *v, mpx_value **out)
{
    int rc = out ? val_check(v, false) : mpx__fail(MPX_EINVAL, "no out argument");
    return rc ? rc : mpx__call_items(v, "get", NULL, 0, MPX_TIMEOUT_DEFAULT, out);
}

int mpx_val_set(mpx_proxy *v, const mpx_value *val)
{
    const mpx_value *items[] = {val};
    int rc = val ? val_check(v, false) : mpx__fail(MPX_EINVAL, "no value");
    return rc ? rc : mpx__call_items(v, "set", items, 1, MPX_TIMEOUT_DEFAULT, NULL);
}

int mpx_val_add(mpx_proxy *v, const mpx_value *delta, mpx_value **out)
{
    int rc = val_check(v, true);
    return rc ? rc : mpx__call_made(v, NULL, "add", NULL, 0, &delta, 1, out);
}

int mpx_val_add_int(mpx_proxy *v, int64_t delta, int64_t *now)
{
    mpx_value *res = NULL, *args[] = {mpx_int(delta)};
    int rc = val_check(v, true);
    if (rc) {
        mpx_value_free(&args[0]);
        return rc;
    }
    return to_int(mpx__call_made(v, NULL, "add", args, 1, NULL, 0, &res), &res, now);
}

int mpx_val_cas(mpx_proxy *v, const mpx_value *expected, const mpx_value *val, bool *swapped,
                mpx_value **current)
{
    const mpx_value *given[] = {expected, val};
    mpx_value *res = NULL;
    int rc = val_check(v, true);
    if (rc == 0) rc = mpx__call_made(v, NULL, "cas", NULL, 0, given, 2, &res);
    if (rc == 0) rc = mpx__cas_result(res, false, swapped, current);
    mpx_value_free(&res);
    return rc;
}

/* ---- Array ------------------------------------------------------------------------------------
 */

static int arr_make(mpx_client *c, const char *name, char typecode, size_t size,
                    const mpx_value *items, mpx_proxy **out)
{
    mpx_value *args[] = {mpx_strn(&typecode, 1), items ? mpx_value_copy(items) : mpx_uint(size)};
    return mpx__proxy_open_args(c, name, "array", args, 2, out);
}

int mpx_arr_new(mpx_client *c, char typecode, size_t size, const mpx_value *items, mpx_proxy **out)
{
    return arr_make(c, NULL, typecode, size, items, out);
}

int mpx_arr_open(mpx_client *c, const char *name, char typecode, size_t size,
                 const mpx_value *items, mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_arr_open: no name");
    return arr_make(c, name, typecode, size, items, out);
}

/* Calls an array method with an index first (or none when index is NULL). */
static int arr_call(mpx_proxy *a, const char *method, const int64_t *index,
                    const mpx_value *const *given, size_t m, mpx_value **out)
{
    mpx_value *made[] = {index ? mpx_int(*index) : NULL};
    return mpx__call_made(a, "array", method, made, index ? 1 : 0, given, m, out);
}

int mpx_arr_len(mpx_proxy *a, size_t *out)
{
    int rc = mpx__proxy_check(a, "array");
    return rc ? rc : mpx__call_size(a, "len", out);
}

int mpx_arr_get(mpx_proxy *a, int64_t index, mpx_value **out)
{
    return out ? arr_call(a, "get", &index, NULL, 0, out)
               : mpx__fail(MPX_EINVAL, "no out argument");
}

int mpx_arr_set(mpx_proxy *a, int64_t index, const mpx_value *val)
{
    return arr_call(a, "set", &index, &val, 1, NULL);
}

int mpx_arr_get_slice(mpx_proxy *a, int64_t start, int64_t stop, int64_t step, mpx_value **out)
{
    if (!out) return mpx__fail(MPX_EINVAL, "no out argument");
    mpx_value *made[] = {mpx__bound(start), mpx__bound(stop), mpx__bound(step)};
    return mpx__call_made(a, "array", "get_slice", made, 3, NULL, 0, out);
}

int mpx_arr_set_slice(mpx_proxy *a, int64_t start, int64_t stop, int64_t step,
                      const mpx_value *items)
{
    mpx_value *made[] = {mpx__bound(start), mpx__bound(stop), mpx__bound(step)};
    return mpx__call_made(a, "array", "set_slice", made, 3, &items, 1, NULL);
}

int mpx_arr_copy(mpx_proxy *a, mpx_value **out)
{
    return out ? arr_call(a, "copy", NULL, NULL, 0, out) : mpx__fail(MPX_EINVAL, "no out argument");
}

int mpx_arr_add(mpx_proxy *a, int64_t index, const mpx_value *delta, mpx_value **out)
{
    return arr_call(a, "add", &index, &delta, 1, out);
}

int mpx_arr_add_int(mpx_proxy *a, int64_t index, int64_t delta, int64_t *now)
{
    mpx_value *d = mpx_int(delta), *res = NULL;
    if (!d) return mpx__fail(MPX_ENOMEM, "out of memory");
    const mpx_value *given[] = {d};
    int rc = arr_call(a, "add", &index, given, 1, &res);
    mpx_value_free(&d);
    return to_int(rc, &res, now);
}

int mpx_arr_cas(mpx_proxy *a, int64_t index, const mpx_value *expected, const mpx_value *val,
                bool *swapped, mpx_value **current)
{
    const mpx_value *given[] = {expected, val};
    mpx_value *res = NULL;
    int rc = arr_call(a, "cas", &index, given, 2, &res);
    if (rc == 0) rc = mpx__cas_result(res, false, swapped, current);
    mpx_value_free(&res);
    return rc;
}
