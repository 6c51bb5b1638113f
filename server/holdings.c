/*
 * holdings.c — what each session owns inside objects, and giving it back when the session
 * ends (holdings.h). Types call down into this; it calls their session_lost and wake hooks
 * through the type, never a type's file directly.
 */
#include "hash.h"
#include "holdings.h"
#include "session.h"

/* One object a session owns something in, and how many times. */
typedef struct mpx__owned {
    uint64_t id;
    uint64_t count;
    UT_hash_handle hh;
} mpx__owned;

void mpx__session_own(mpx__server *s, mpx__session *sess, mpx__obj *obj)
{
    (void)s;
    mpx__owned *o;
    HASH_FIND(hh, sess->owned, &obj->id, sizeof obj->id, o);
    if (!o) {
        o = mpx__xcalloc(1, sizeof *o);
        o->id = obj->id;
        HASH_ADD(hh, sess->owned, id, sizeof o->id, o);
    }
    o->count++;
    mpx__registry_hold(obj);
}

uint64_t mpx__session_disown_n(mpx__server *s, mpx__session *sess, mpx__obj *obj, uint64_t n)
{
    mpx__owned *o;
    HASH_FIND(hh, sess->owned, &obj->id, sizeof obj->id, o);
    if (!o) return 0;
    uint64_t k = n < o->count ? n : o->count;
    o->count -= k;
    if (o->count == 0) {
        HASH_DEL(sess->owned, o);
        mpx__xfree(o);
    }
    for (uint64_t i = 0; i < k; i++)
        mpx__registry_unhold(&s->reg, obj);
    return k;
}

void mpx__session_disown(mpx__server *s, mpx__session *sess, mpx__obj *obj)
{
    mpx__session_disown_n(s, sess, obj, 1);
}

bool mpx__session_owns(const mpx__session *sess)
{
    return sess->owned != NULL;
}

void mpx__holdings_give_back(mpx__server *s, mpx__session *sess)
{
    mpx__owned *o, *tmp;
    HASH_ITER(hh, sess->owned, o, tmp)
    {
        mpx__obj *obj = mpx__registry_find_any(&s->reg, o->id); /* deleted ones too */
        HASH_DEL(sess->owned, o);
        if (obj) {
            if (obj->state) obj->type->session_lost(s, obj, sess, o->count);
            if (obj->state && obj->type->wake) obj->type->wake(s, obj);
            for (uint64_t i = 0; i < o->count; i++)
                mpx__registry_unhold(&s->reg, obj);
        }
        mpx__xfree(o);
    }
}
