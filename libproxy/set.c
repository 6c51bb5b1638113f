/*
 * set.c — the set proxy: one function per method of the server's set type (t_set.c).
 */
#include "client.h"

static int set_call(mpx_proxy *s, const char *method, const mpx_value *arg, mpx_value **out)
{
    int rc = mpx__proxy_check(s, "set");
    if (rc) return rc;
    const mpx_value *items[] = {arg};
    return mpx__call_items(s, method, items, arg ? 1 : 0, MPX_TIMEOUT_DEFAULT, out);
}

/* A method that takes one item or one array (want_array). */
static int set_call_arg(mpx_proxy *s, const char *method, const mpx_value *arg, bool want_array,
                        mpx_value **out)
{
    if (!arg || (want_array && mpx_value_type(arg) != MPX_ARRAY))
        return mpx__fail(MPX_EINVAL, "set.%s: %s", method,
                         want_array ? "an array of items" : "no item");
    return set_call(s, method, arg, out);
}

static int set_call_bool(mpx_proxy *s, const char *method, const mpx_value *arg, bool want_array,
                         bool *out)
{
    if (!arg || !out || (want_array && mpx_value_type(arg) != MPX_ARRAY))
        return mpx__fail(MPX_EINVAL, "set.%s: %s and out", method,
                         want_array ? "an array of items" : "an item");
    int rc = mpx__proxy_check(s, "set");
    const mpx_value *items[] = {arg};
    return rc ? rc : mpx__call_bool(s, method, items, 1, MPX_TIMEOUT_DEFAULT, out);
}

/* An operation with an array of items whose answer is an array. */
static int set_op(mpx_proxy *s, const char *method, const mpx_value *items, mpx_value **out)
{
    return out ? set_call_arg(s, method, items, true, out)
               : mpx__fail(MPX_EINVAL, "set.%s: no out argument", method);
}

int mpx_set_open(mpx_client *c, const char *name, mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_set_open: no name");
    return mpx__proxy_open(c, name, "set", NULL, out);
}

int mpx_set_new(mpx_client *c, mpx_proxy **out)
{
    return mpx__proxy_open(c, NULL, "set", NULL, out);
}

int mpx_set_add(mpx_proxy *s, const mpx_value *item)
{
    return set_call_arg(s, "add", item, false, NULL);
}

int mpx_set_discard(mpx_proxy *s, const mpx_value *item)
{
    return set_call_arg(s, "discard", item, false, NULL);
}

int mpx_set_remove(mpx_proxy *s, const mpx_value *item)
{
    return set_call_arg(s, "remove", item, false, NULL);
}

int mpx_set_contains(mpx_proxy *s, const mpx_value *item, bool *out)
{
    return set_call_bool(s, "contains", item, false, out);
}

int mpx_set_len(mpx_proxy *s, size_t *out)
{
    int rc = mpx__proxy_check(s, "set");
    return rc ? rc : mpx__call_size(s, "len", out);
}

int mpx_set_pop(mpx_proxy *s, mpx_value **out)
{
    return set_call(s, "pop", NULL, out);
}

int mpx_set_clear(mpx_proxy *s)
{
    return set_call(s, "clear", NULL, NULL);
}

int mpx_set_update(mpx_proxy *s, const mpx_value *items)
{
    return set_call_arg(s, "update", items, true, NULL);
}

int mpx_set_copy(mpx_proxy *s, mpx_value **out)
{
    return out ? set_call(s, "copy", NULL, out) : mpx__fail(MPX_EINVAL, "no out argument");
}

int mpx_set_union(mpx_proxy *s, const mpx_value *items, mpx_value **out)
{
    return set_op(s, "union", items, out);
}

int mpx_set_intersection(mpx_proxy *s, const mpx_value *items, mpx_value **out)
{
    return set_op(s, "intersection", items, out);
}

int mpx_set_difference(mpx_proxy *s, const mpx_value *items, mpx_value **out)
{
    return set_op(s, "difference", items, out);
}

int mpx_set_symmetric_difference(mpx_proxy *s, const mpx_value *items, mpx_value **out)
{
    return set_op(s, "symmetric_difference", items, out);
}

int mpx_set_issubset(mpx_proxy *s, const mpx_value *items, bool *out)
{
    return set_call_bool(s, "issubset", items, true, out);
}

int mpx_set_issuperset(mpx_proxy *s, const mpx_value *items, bool *out)
{
    return set_call_bool(s, "issuperset", items, true, out);
}

int mpx_set_isdisjoint(mpx_proxy *s, const mpx_value *items, bool *out)
{
    return set_call_bool(s, "isdisjoint", items, true, out);
}
