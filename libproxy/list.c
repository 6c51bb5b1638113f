/*
 * list.c — the list proxy: one function per method of the server's list type (t_list.c), and
 * the slice arguments the list and array proxies share.
 */
#include "client.h"

mpx_value *mpx__bound(int64_t v)
{
    return v == MPX_SLICE_NONE ? mpx_nil() : mpx_int(v);
}

/* A list method with made[0..n) (freed here) and then extra, if not NULL. */
static int list_call(mpx_proxy *l, const char *method, mpx_value **made, size_t n,
                     const mpx_value *extra, mpx_value **out)
{
    const mpx_value *given[] = {extra};
    return mpx__call_made(l, "list", method, made, n, given, extra != NULL, out);
}

static int need(const void *p, const char *what)
{
    return p ? 0 : mpx__fail(MPX_EINVAL, "no %s", what);
}

int mpx_list_open(mpx_client *c, const char *name, mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_list_open: no name");
    return mpx__proxy_open(c, name, "list", NULL, out);
}

int mpx_list_new(mpx_client *c, mpx_proxy **out)
{
    return mpx__proxy_open(c, NULL, "list", NULL, out);
}

int mpx_list_append(mpx_proxy *l, const mpx_value *item)
{
    return item ? list_call(l, "append", NULL, 0, item, NULL) : need(item, "item");
}

int mpx_list_extend(mpx_proxy *l, const mpx_value *items)
{
    if (mpx_value_type(items) != MPX_ARRAY)
        return mpx__fail(MPX_EINVAL, "list.extend: items must be an array");
    return list_call(l, "extend", NULL, 0, items, NULL);
}

int mpx_list_insert(mpx_proxy *l, int64_t index, const mpx_value *item)
{
    if (!item) return need(item, "item");
    mpx_value *args[] = {mpx_int(index)};
    return list_call(l, "insert", args, 1, item, NULL);
}

int mpx_list_get(mpx_proxy *l, int64_t index, mpx_value **out)
{
    if (!out) return need(out, "out");
    mpx_value *args[] = {mpx_int(index)};
    return list_call(l, "get", args, 1, NULL, out);
}

int mpx_list_set(mpx_proxy *l, int64_t index, const mpx_value *item)
{
    if (!item) return need(item, "item");
    mpx_value *args[] = {mpx_int(index)};
    return list_call(l, "set", args, 1, item, NULL);
}

int mpx_list_del(mpx_proxy *l, int64_t index)
{
    mpx_value *args[] = {mpx_int(index)};
    return list_call(l, "delete", args, 1, NULL, NULL);
}

int mpx_list_get_slice(mpx_proxy *l, int64_t start, int64_t stop, int64_t step, mpx_value **out)
{
    if (!out) return need(out, "out");
    mpx_value *args[] = {mpx__bound(start), mpx__bound(stop), mpx__bound(step)};
    return list_call(l, "get_slice", args, 3, NULL, out);
}

int mpx_list_set_slice(mpx_proxy *l, int64_t start, int64_t stop, int64_t step,
                       const mpx_value *items)
{
    if (mpx_value_type(items) != MPX_ARRAY)
        return mpx__fail(MPX_EINVAL, "list.set_slice: items must be an array");
    mpx_value *args[] = {mpx__bound(start), mpx__bound(stop), mpx__bound(step)};
    return list_call(l, "set_slice", args, 3, items, NULL);
}

int mpx_list_del_slice(mpx_proxy *l, int64_t start, int64_t stop, int64_t step)
{
    mpx_value *args[] = {mpx__bound(start), mpx__bound(stop), mpx__bound(step)};
    return list_call(l, "delete_slice", args, 3, NULL, NULL);
}

int mpx_list_pop(mpx_proxy *l, int64_t index, mpx_value **out)
{
    mpx_value *args[] = {mpx_int(index)};
    return list_call(l, "pop", args, 1, NULL, out);
}

int mpx_list_remove(mpx_proxy *l, const mpx_value *item)
{
    return item ? list_call(l, "remove", NULL, 0, item, NULL) : need(item, "item");
}

int mpx_list_index(mpx_proxy *l, const mpx_value *item, int64_t start, int64_t stop, size_t *out)
{
    if (!item || !out) return need(NULL, "item or out");
    mpx_value *args[] = {mpx_value_copy(item), mpx__bound(start), mpx__bound(stop)}, *v = NULL;
    int rc = list_call(l, "index", args, 3, NULL, &v);
    uint64_t at = 0;
    if (rc == 0 && mpx_value_get_uint(v, &at))
        rc = mpx__fail(MPX_EPROTO, "list.index: not a position");
    if (rc == 0) *out = (size_t)at;
    mpx_value_free(&v);
    return rc;
}

int mpx_list_count(mpx_proxy *l, const mpx_value *item, size_t *out)
{
    mpx_value *v = NULL;
    if (!item || !out) return need(NULL, "item or out");
    int rc = list_call(l, "count", NULL, 0, item, &v);
    uint64_t n = 0;
    if (rc == 0 && mpx_value_get_uint(v, &n)) rc = mpx__fail(MPX_EPROTO, "list.count: not a count");
    if (rc == 0) *out = (size_t)n;
    mpx_value_free(&v);
    return rc;
}

int mpx_list_contains(mpx_proxy *l, const mpx_value *item, bool *out)
{
    const mpx_value *items[] = {item};
    int rc = item ? mpx__proxy_check(l, "list") : need(item, "item");
    return rc ? rc : mpx__call_bool(l, "contains", items, 1, MPX_TIMEOUT_DEFAULT, out);
}

int mpx_list_len(mpx_proxy *l, size_t *out)
{
    int rc = mpx__proxy_check(l, "list");
    return rc ? rc : mpx__call_size(l, "len", out);
}

int mpx_list_reverse(mpx_proxy *l)
{
    return list_call(l, "reverse", NULL, 0, NULL, NULL);
}

int mpx_list_sort(mpx_proxy *l, bool reverse)
{
    mpx_value *args[] = {mpx_bool(reverse)};
    return list_call(l, "sort", args, 1, NULL, NULL);
}

int mpx_list_clear(mpx_proxy *l)
{
    return list_call(l, "clear", NULL, 0, NULL, NULL);
}

int mpx_list_copy(mpx_proxy *l, mpx_value **out)
{
    return out ? list_call(l, "copy", NULL, 0, NULL, out) : need(out, "out");
}
