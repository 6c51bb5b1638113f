/*
 * refs.c — object references inside stored values: checking them, the holds of the copies
 * that keep them, and the references a reply gives its reader (refs.h).
 */
#include "persist.h"
#include "refs.h"
#include "session.h"

static mpx__registry *refs_reg;

void mpx__refs_init(mpx__registry *reg)
{
    refs_reg = reg;
}

/* Calls fn on each reference in the well-formed value p[0..len), stopping at a nonzero
 * return. Plain items are stepped over without a decode, so a value without references costs
 * one pass over its items' headers. */
static int walk(const uint8_t *p, size_t len, int (*fn)(const mpx__mp_token *t, void *arg),
                void *arg)
{
    mpx__mp_cursor c;
    mpx__mp_init(&c, p, len);
    while (c.p < c.end) {
        if (mpx__mp_skip_plain(&c) == 1) continue;
        mpx__mp_token t;
        if (mpx__mp_next(&c, &t)) return MPX_EPROTO;
        if (t.kind != MPX_MP_EXT || t.ext_type != MPX_REF_EXT) continue;
        int rc = fn(&t, arg);
        if (rc) return rc;
    }
    return 0;
}

/* The object a reference names, if it is well formed and names a live object of its type (or
 * a deleted one that some container still references, when deleted_too: records replayed). */
static int resolve(const mpx__mp_token *t, bool deleted_too, mpx__obj **obj)
{
    *obj = NULL;
    if (t->len <= 8 || t->len > 8 + MPX_REF_TYPE_MAX) return MPX_ETYPE;
    uint64_t id = mpx__get_u64be(t->data);
    mpx__obj *o = !id           ? NULL
                  : deleted_too ? mpx__registry_find_any(refs_reg, id)
                                : mpx__registry_find(refs_reg, id);
    size_t tlen = t->len - 8;
    if (!o || strlen(o->type->name) != tlen || memcmp(o->type->name, t->data + 8, tlen) != 0)
        return MPX_ENOOBJ;
    *obj = o;
    return 0;
}

typedef struct {
    mpx__req *req;
    size_t n;
} check_ctx;

static int check_one(const mpx__mp_token *t, void *arg)
{
    check_ctx *ctx = arg;
    mpx__obj *obj;
    int rc = resolve(t, mpx__persist_replaying(ctx->req->server), &obj);
    if (rc == MPX_ETYPE)
        return mpx__req_fail(ctx->req, rc, "a malformed object reference (ext type 1)");
    if (rc)
        return mpx__req_fail(ctx->req, rc,
                             "an object reference names no object of that id and "
                             "type (deleted, or freed with its last reference)");
    ctx->n++;
    return 0;
}

int mpx__refs_check(mpx__req *req, const mpx__span *v, size_t *n)
{
    check_ctx ctx = {req, 0};
    int rc = walk(v->p, v->len, check_one, &ctx);
    if (rc == MPX_EPROTO) rc = mpx__req_fail(req, MPX_EBADREQ, "malformed value");
    if (rc == 0 && n) *n = ctx.n;
    return rc;
}

/* Holds the object by id whatever became of it since the value was checked (deleted in the
 * same batch, say), so that every hold is matched by the drop of the same copy. */
static int hold_one(const mpx__mp_token *t, void *arg)
{
    (void)arg;
    mpx__obj *obj = t->len > 8 ? mpx__registry_find_any(refs_reg, mpx__get_u64be(t->data)) : NULL;
    if (obj) mpx__registry_hold(obj);
    return 0;
}

void mpx__refs_hold(mpx__obj *container, const uint8_t *p, size_t len)
{
    walk(p, len, hold_one, NULL);
    if (container) container->ref_holder = true;
}

static int found(const mpx__mp_token *t, void *arg)
{
    (void)t;
    (void)arg;
    return 1;
}

bool mpx__refs_present(const uint8_t *p, size_t len)
{
    return walk(p, len, found, NULL) == 1;
}

static int drop_one(const mpx__mp_token *t, void *arg)
{
    (void)arg;
    if (t->len > 8) mpx__registry_unhold_id(refs_reg, mpx__get_u64be(t->data));
    return 0;
}

void mpx__refs_drop(const uint8_t *p, size_t len)
{
    walk(p, len, drop_one, NULL);
}

static int give_one(const mpx__mp_token *t, void *arg)
{
    mpx__session *sess = arg;
    mpx__obj *obj;
    if (t->len > 8 && (obj = mpx__registry_find_any(refs_reg, mpx__get_u64be(t->data))))
        mpx__registry_ref(&sess->refs, obj);
    return 0;
}

void mpx__refs_give(mpx__session *sess, const uint8_t *p, size_t len)
{
    walk(p, len, give_one, sess);
}
