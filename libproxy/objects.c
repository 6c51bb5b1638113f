/*
 * objects.c — deleting and listing objects through the manager, object 0 (t_manager.c).
 */
#include "client.h"

/* Calls a manager method with made[0..n) (freed here; NULL: out of memory). */
static int manager_call(mpx_client *c, const char *method, mpx_value **made, size_t n,
                        mpx_value **out)
{
    const mpx_value *items[3];
    int rc = mpx__client_ok(c) ? 0 : mpx__fail(MPX_EINVAL, "not a client handle");
    for (size_t i = 0; i < n; i++) {
        if (!made[i] && rc == 0) rc = mpx__fail(MPX_ENOMEM, "out of memory");
        items[i] = made[i];
    }
    mpx__args args = {.items = items, .n = n};
    mpx__result res;
    if (rc == 0)
        rc = mpx__invoke(c, 0, NULL, method, &args, MPX_TIMEOUT_DEFAULT, out ? &res : NULL);
    if (rc == 0 && out) {
        rc = mpx__result_value(&res, out);
        mpx__result_close(&res);
    }
    for (size_t i = 0; i < n; i++)
        mpx_value_free(&made[i]);
    return rc;
}

int mpx_delete(mpx_client *c, const char *name)
{
    if (!name || !*name) return mpx__fail(MPX_EINVAL, "mpx_delete: no name");
    mpx_value *args[] = {mpx_str(name)};
    return manager_call(c, "delete", args, 1, NULL);
}

int mpx_proxy_delete(mpx_proxy *p)
{
    int rc = mpx__proxy_check(p, NULL);
    if (rc) return rc;
    mpx_value *args[] = {mpx_uint(mpx_proxy_id(p))};
    return manager_call(p->client, "delete", args, 1, NULL);
}

int mpx_objects(mpx_client *c, const char *prefix, uint64_t cursor, size_t count, uint64_t *next,
                mpx_value **rows)
{
    if (!next || !rows || count == 0)
        return mpx__fail(MPX_EINVAL, "mpx_objects: count >= 1, next and rows");
    mpx_value *args[] = {mpx_uint(cursor), mpx_uint(count), prefix ? mpx_str(prefix) : NULL};
    mpx_value *res = NULL;
    int rc = manager_call(c, "objects", args, prefix ? 3 : 2, &res);
    if (rc == 0 && (mpx_value_len(res) != 2 || mpx_value_get_uint(mpx_value_at(res, 0), next) ||
                    mpx_value_type(mpx_value_at(res, 1)) != MPX_ARRAY))
        rc = mpx__fail(MPX_EPROTO, "objects: unexpected result");
    if (rc == 0 && !(*rows = mpx_value_copy(mpx_value_at(res, 1))))
        rc = mpx__fail(MPX_ENOMEM, "out of memory");
    mpx_value_free(&res);
    return rc;
}
