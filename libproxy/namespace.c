/*
 * namespace.c — the namespace proxy: one function per method of the server's namespace type
 * (t_namespace.c). Attribute names are C strings.
 */
#include "client.h"

/* Calls method(name [, val]). */
static int ns_call(mpx_proxy *ns, const char *method, const char *name, const mpx_value *val,
                   mpx_value **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "namespace.%s: no attribute name", method);
    int rc = mpx__proxy_check(ns, "namespace");
    if (rc) return rc;
    mpx_value *key = mpx_str(name);
    if (!key) return mpx__fail(MPX_ENOMEM, "out of memory");
    const mpx_value *items[] = {key, val};
    rc = mpx__call_items(ns, method, items, val ? 2 : 1, MPX_TIMEOUT_DEFAULT, out);
    mpx_value_free(&key);
    return rc;
}

int mpx_namespace_open(mpx_client *c, const char *name, mpx_proxy **out)
{
    if (!name) return mpx__fail(MPX_EINVAL, "mpx_namespace_open: no name");
    return mpx__proxy_open(c, name, "namespace", NULL, out);
}

int mpx_namespace_new(mpx_client *c, mpx_proxy **out)
{
    return mpx__proxy_open(c, NULL, "namespace", NULL, out);
}

int mpx_namespace_get(mpx_proxy *ns, const char *name, mpx_value **out)
{
    return out ? ns_call(ns, "get", name, NULL, out) : mpx__fail(MPX_EINVAL, "no out argument");
}

int mpx_namespace_set(mpx_proxy *ns, const char *name, const mpx_value *val)
{
    return val ? ns_call(ns, "set", name, val, NULL) : mpx__fail(MPX_EINVAL, "no value");
}

int mpx_namespace_del(mpx_proxy *ns, const char *name)
{
    return ns_call(ns, "delete", name, NULL, NULL);
}

int mpx_namespace_contains(mpx_proxy *ns, const char *name, bool *out)
{
    mpx_value *v = NULL;
    if (!out) return mpx__fail(MPX_EINVAL, "no out argument");
    int rc = ns_call(ns, "contains", name, NULL, &v);
    if (rc == 0 && mpx_value_get_bool(v, out)) rc = mpx__fail(MPX_EPROTO, "not a bool");
    mpx_value_free(&v);
    return rc;
}

int mpx_namespace_items(mpx_proxy *ns, mpx_value **out)
{
    int rc = out ? mpx__proxy_check(ns, "namespace") : mpx__fail(MPX_EINVAL, "no out argument");
    return rc ? rc : mpx__call_items(ns, "items", NULL, 0, MPX_TIMEOUT_DEFAULT, out);
}
