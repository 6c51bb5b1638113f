/*
 * registry.c — objects by id and by name, and the references sessions hold to them.
 */
#include <string.h>

#include "hash.h"
#include "registry.h"

struct mpx__objent {
    mpx__obj obj;
    UT_hash_handle hh;      /* by id */
    UT_hash_handle hh_name; /* by name, for named objects */
    bool doomed;            /* on the garbage list */
    bool deleted;           /* deleted: found only by mpx__registry_find_any() */
    mpx__objent *next_garbage;
};

struct mpx__ref {
    uint64_t id;
    uint64_t count;
    UT_hash_handle hh;
};

void mpx__registry_init(mpx__registry *r, const mpx__type *manager)
{
    memset(r, 0, sizeof *r);
    r->next_id = 1;
    r->manager = (mpx__obj){.id = 0, .type = manager};
}

static void obj_destroy(mpx__registry *r, mpx__objent *e)
{
    HASH_DEL(r->by_id, e);
    if (e->obj.name) HASH_DELETE(hh_name, r->by_name, e);
    if (e->obj.state) e->obj.type->destroy(e->obj.state);
    mpx__xfree(e->obj.name);
    if (!e->deleted) r->by_type[mpx__type_index(e->obj.type)]--;
    mpx__xfree(e);
    r->n_objects--;
}

void mpx__registry_close(mpx__registry *r)
{
    mpx__objent *e, *tmp;
    HASH_ITER(hh, r->by_id, e, tmp)
    obj_destroy(r, e);
    r->garbage = NULL; /* what the destroyed containers let go was destroyed with the rest */
}

static mpx__objent *find_entry(mpx__registry *r, uint64_t id)
{
    mpx__objent *e;
    HASH_FIND(hh, r->by_id, &id, sizeof id, e);
    return e;
}

mpx__obj *mpx__registry_find(mpx__registry *r, uint64_t id)
{
    if (id == 0) return &r->manager;
    mpx__objent *e = find_entry(r, id);
    return e && !e->deleted ? &e->obj : NULL;
}

mpx__obj *mpx__registry_find_any(mpx__registry *r, uint64_t id)
{
    mpx__objent *e = id ? find_entry(r, id) : NULL;
    return e ? &e->obj : NULL;
}

/* Puts an entry left with no reference on the garbage list, unless a name keeps it. */
static void maybe_garbage(mpx__registry *r, mpx__objent *e)
{
    if (e->obj.refs == 0 && !e->obj.name && !e->doomed) {
        e->doomed = true;
        e->next_garbage = r->garbage;
        r->garbage = e;
    }
}

void mpx__registry_delete(mpx__registry *r, mpx__obj *obj)
{
    mpx__objent *e = (mpx__objent *)obj; /* obj is the entry's first member */
    if (obj->name) {
        HASH_DELETE(hh_name, r->by_name, e);
        mpx__xfree(obj->name);
        obj->name = NULL;
    }
    e->deleted = true;
    r->by_type[mpx__type_index(obj->type)]--;
    r->n_deleted++;
    maybe_garbage(r, e);
}

void mpx__registry_drop_state(mpx__obj *obj)
{
    if (obj->state && !obj->type->keeps_state_deleted) {
        obj->type->destroy(obj->state);
        obj->state = NULL;
    }
}

mpx__obj *mpx__registry_find_name(mpx__registry *r, const char *name, size_t len)
{
    mpx__objent *e;
    HASH_FIND(hh_name, r->by_name, name, len, e);
    return e ? &e->obj : NULL;
}

mpx__obj *mpx__registry_add(mpx__registry *r, const mpx__type *type, const char *name, size_t len,
                            void *state)
{
    mpx__objent *e = mpx__xcalloc(1, sizeof *e);
    e->obj = (mpx__obj){.id = r->next_id++, .type = type, .state = state};
    HASH_ADD(hh, r->by_id, obj.id, sizeof e->obj.id, e);
    if (name) {
        e->obj.name = mpx__xstrndup(name, len);
        HASH_ADD_KEYPTR(hh_name, r->by_name, e->obj.name, len, e);
    }
    r->n_objects++;
    r->by_type[mpx__type_index(type)]++;
    return &e->obj;
}

/* Drops `count` references to an object; an anonymous object left with none goes on the
 * garbage list, destroyed by mpx__registry_collect(). */
static void obj_unref(mpx__registry *r, uint64_t id, uint64_t count)
{
    mpx__objent *e;
    HASH_FIND(hh, r->by_id, &id, sizeof id, e);
    if (!e) return;
    if (e->obj.refs < count)
        mpx__panic("object %llu: %llu references dropped, %llu held", (unsigned long long)id,
                   (unsigned long long)count, (unsigned long long)e->obj.refs);
    e->obj.refs -= count;
    maybe_garbage(r, e);
}

void mpx__registry_each(mpx__registry *r, void (*fn)(mpx__obj *obj, bool deleted, void *arg),
                        void *arg)
{
    for (mpx__objent *e = r->by_id; e; e = e->hh.next) /* uthash keeps insertion order */
        if (!e->doomed) fn(&e->obj, e->deleted, arg);
}

void mpx__registry_collect(mpx__registry *r)
{
    while (r->garbage) {
        mpx__objent *e = r->garbage;
        r->garbage = e->next_garbage;
        e->doomed = false;
        if (e->obj.refs == 0) { /* else attached again meanwhile */
            if (e->deleted) r->n_deleted--;
            obj_destroy(r, e);
        }
    }
}

void mpx__registry_hold(mpx__obj *obj)
{
    obj->refs++;
}

void mpx__registry_unhold(mpx__registry *r, mpx__obj *obj)
{
    obj_unref(r, obj->id, 1);
}

void mpx__registry_unhold_id(mpx__registry *r, uint64_t id)
{
    obj_unref(r, id, 1);
}

void mpx__registry_ref(mpx__ref **refs, mpx__obj *obj)
{
    mpx__ref *ref;
    HASH_FIND(hh, *refs, &obj->id, sizeof obj->id, ref);
    if (!ref) {
        ref = mpx__xcalloc(1, sizeof *ref);
        ref->id = obj->id;
        HASH_ADD(hh, *refs, id, sizeof ref->id, ref);
    }
    ref->count++;
    obj->refs++;
}

int mpx__registry_unref(mpx__registry *r, mpx__ref **refs, uint64_t id)
{
    mpx__ref *ref;
    HASH_FIND(hh, *refs, &id, sizeof id, ref);
    if (!ref) return MPX_ENOOBJ;
    if (--ref->count == 0) {
        HASH_DEL(*refs, ref);
        mpx__xfree(ref);
    }
    obj_unref(r, id, 1);
    return 0;
}

void mpx__registry_drop_refs(mpx__registry *r, mpx__ref **refs)
{
    mpx__ref *ref, *tmp;
    HASH_ITER(hh, *refs, ref, tmp)
    {
        HASH_DEL(*refs, ref);
        obj_unref(r, ref->id, ref->count);
        mpx__xfree(ref);
    }
}

/* Reverses the bits of v, for the cursor of mpx__registry_scan(). */
static uint64_t bit_reverse(uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; i < 64; i++, v >>= 1)
        r = (r << 1) | (v & 1);
    return r;
}

uint64_t mpx__registry_scan(mpx__registry *r, uint64_t cursor, size_t count,
                            void (*fn)(mpx__obj *obj, void *arg), void *arg)
{
    if (!r->by_id) return 0;
    UT_hash_table *tbl = r->by_id->hh.tbl;
    uint64_t mask = tbl->num_buckets - 1;
    size_t seen = 0, buckets = 0;
    do {
        for (UT_hash_handle *h = tbl->buckets[cursor & mask].hh_head; h; h = h->hh_next) {
            mpx__objent *e = ELMT_FROM_HH(tbl, h);
            if (!e->deleted) fn(&e->obj, arg);
            seen++;
        }
        /* the next bucket in reverse-binary order, as Redis's dictScan: a table that doubles
         * meanwhile splits each bucket into ones still ahead of the cursor */
        cursor |= ~mask;
        cursor = bit_reverse(bit_reverse(cursor) + 1);
    } while (cursor && seen < count && ++buckets < 10 * count);
    return cursor;
}

size_t mpx__registry_refs_count(mpx__ref *refs)
{
    return HASH_COUNT(refs);
}
