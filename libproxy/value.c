/*
 * value.c — mpx_value: a msgpack value tree that callers build and read without touching
 * msgpack, its encoding (msgpack-c's packing template, into a growable buffer) and its
 * decoding (the codec's bounded cursor).
 *
 * Ownership: a container owns its items; a map keeps its pairs as 2n items, key then value.
 * Depth: a container knows how deep it nests, and refuses an item that would take it past
 * MPX_MAX_DEPTH, so copying, comparing, encoding and freeing never recurse deeper than the
 * protocol allows, whatever a caller builds.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "internal.h"

struct mpx_value {
    mpx_type type;
    uint16_t depth;     /* levels of arrays and maps: 0 for a scalar, at most MPX_MAX_DEPTH */
    uint16_t claim_gen; /* a claimed reference: the fork generation of the claiming session */
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double d;
        struct {
            char *p; /* NUL-terminated for the caller's convenience */
            size_t len;
        } s;
        struct {
            mpx_value **items; /* a map: key, value, key, value, ... */
            size_t len;        /* items, not pairs */
            size_t cap;
        } a;
        struct {
            uint64_t id;
            char *type;
            void *owner; /* the client whose session holds a reference for it, or NULL */
        } r;
    };
};

void (*mpx__ref_release_hook)(void *owner, uint64_t id, unsigned gen);

static mpx_value *value_new(mpx_type type)
{
    mpx_value *v = calloc(1, sizeof *v);
    if (v) v->type = type;
    return v;
}

mpx_value *mpx_nil(void)
{
    return value_new(MPX_NIL);
}

mpx_value *mpx_bool(bool b)
{
    mpx_value *v = value_new(MPX_BOOL);
    if (v) v->b = b;
    return v;
}

mpx_value *mpx_int(int64_t i)
{
    mpx_value *v = value_new(MPX_INT);
    if (v) v->i = i;
    return v;
}

mpx_value *mpx_uint(uint64_t u)
{
    mpx_value *v = value_new(MPX_UINT);
    if (v) v->u = u;
    return v;
}

mpx_value *mpx_double(double d)
{
    mpx_value *v = value_new(MPX_DOUBLE);
    if (v) v->d = d;
    return v;
}

/* A string or bytes value: its bytes follow the struct in the same allocation, so building,
 * encoding and freeing a map of many short strings touches half as many blocks. */
static mpx_value *value_blob(mpx_type type, const void *p, size_t len)
{
    if (len > SIZE_MAX - sizeof(mpx_value) - 1) return NULL;
    mpx_value *v = malloc(sizeof *v + len + 1);
    if (!v) return NULL;
    v->type = type;
    v->depth = 0;
    v->s.p = (char *)(v + 1);
    if (len) memcpy(v->s.p, p, len);
    v->s.p[len] = '\0';
    v->s.len = len;
    return v;
}

mpx_value *mpx_strn(const char *s, size_t len)
{
    return s || !len ? value_blob(MPX_STR, s, len) : NULL;
}

mpx_value *mpx_str(const char *s)
{
    return s ? value_blob(MPX_STR, s, strlen(s)) : NULL;
}

mpx_value *mpx_bytes(const void *p, size_t len)
{
    return p || !len ? value_blob(MPX_BYTES, p, len) : NULL;
}

mpx_value *mpx_array(void)
{
    return value_new(MPX_ARRAY);
}

mpx_value *mpx_map(void)
{
    return value_new(MPX_MAP);
}

static int items_reserve(mpx_value *c, size_t more)
{
    if (c->a.len + more <= c->a.cap) return 0;
    size_t cap = c->a.cap ? c->a.cap * 2 : 8;
    while (cap < c->a.len + more)
        cap *= 2;
    mpx_value **items = realloc(c->a.items, cap * sizeof *items);
    if (!items) return MPX_ENOMEM;
    c->a.items = items;
    c->a.cap = cap;
    return 0;
}

/* Whether an item of this depth may go into a container. */
static bool depth_fits(const mpx_value *item)
{
    return item->depth < MPX_MAX_DEPTH;
}

static void depth_take(mpx_value *c, const mpx_value *item)
{
    if (item->depth + 1 > c->depth) c->depth = (uint16_t)(item->depth + 1);
}

int mpx_array_push(mpx_value *array, mpx_value **item)
{
    if (!array || array->type != MPX_ARRAY || !item || !*item)
        return mpx__fail(MPX_EINVAL, "mpx_array_push: not an array, or no item");
    if (!depth_fits(*item))
        return mpx__fail(MPX_EINVAL, "mpx_array_push: values nest at most %d levels deep",
                         MPX_MAX_DEPTH);
    if (items_reserve(array, 1)) return mpx__fail(MPX_ENOMEM, "mpx_array_push: out of memory");
    depth_take(array, *item);
    array->a.items[array->a.len++] = *item;
    *item = NULL;
    return 0;
}

int mpx_map_put(mpx_value *map, mpx_value **key, mpx_value **val)
{
    if (!map || map->type != MPX_MAP || !key || !*key || !val || !*val)
        return mpx__fail(MPX_EINVAL, "mpx_map_put: not a map, or no key or value");
    if (!depth_fits(*key) || !depth_fits(*val))
        return mpx__fail(MPX_EINVAL, "mpx_map_put: values nest at most %d levels deep",
                         MPX_MAX_DEPTH);
    if (items_reserve(map, 2)) return mpx__fail(MPX_ENOMEM, "mpx_map_put: out of memory");
    depth_take(map, *key);
    depth_take(map, *val);
    map->a.items[map->a.len++] = *key;
    map->a.items[map->a.len++] = *val;
    *key = *val = NULL;
    return 0;
}

static void value_destroy(mpx_value *v)
{
    if (!v) return;
    if (v->type == MPX_ARRAY || v->type == MPX_MAP) {
        for (size_t i = 0; i < v->a.len; i++)
            value_destroy(v->a.items[i]);
        free(v->a.items);
    }
    if (v->type == MPX_REF) {
        if (v->r.owner && mpx__ref_release_hook)
            mpx__ref_release_hook(v->r.owner, v->r.id, v->claim_gen);
        free(v->r.type);
    }
    free(v);
}

mpx_value *mpx__value_ref(uint64_t id, const char *type, size_t len)
{
    mpx_value *v = value_new(MPX_REF);
    char *t = malloc(len + 1);
    if (!v || !t) {
        free(v);
        free(t);
        return NULL;
    }
    memcpy(t, type, len);
    t[len] = '\0';
    v->r.id = id;
    v->r.type = t;
    return v;
}

int mpx_value_get_ref(const mpx_value *v, uint64_t *id, const char **type)
{
    if (!v || v->type != MPX_REF) return MPX_ETYPE;
    if (id) *id = v->r.id;
    if (type) *type = v->r.type;
    return 0;
}

size_t mpx__value_claim_refs(mpx_value *v, void *owner, unsigned gen)
{
    if (!v) return 0;
    if (v->type == MPX_REF && !v->r.owner) {
        v->r.owner = owner;
        v->claim_gen = (uint16_t)gen;
        return 1;
    }
    size_t n = 0;
    if (v->type == MPX_ARRAY || v->type == MPX_MAP)
        for (size_t i = 0; i < v->a.len; i++)
            n += mpx__value_claim_refs(v->a.items[i], owner, gen);
    return n;
}

void *mpx__value_disown_ref(mpx_value *v, unsigned *gen)
{
    void *owner = v && v->type == MPX_REF ? v->r.owner : NULL;
    if (owner) v->r.owner = NULL;
    if (owner) *gen = v->claim_gen;
    return owner;
}

mpx_value *mpx__value_take(mpx_value *array, size_t i)
{
    if (!array || (array->type != MPX_ARRAY && array->type != MPX_MAP) || i >= array->a.len)
        return NULL;
    mpx_value *nil = mpx_nil(), *item = array->a.items[i];
    if (!nil) return NULL;
    array->a.items[i] = nil;
    return item;
}

void mpx_value_free(mpx_value **v)
{
    if (v) {
        value_destroy(*v);
        *v = NULL;
    }
}

mpx_value *mpx_value_copy(const mpx_value *v)
{
    if (!v) return NULL;
    if (v->type == MPX_STR || v->type == MPX_BYTES) return value_blob(v->type, v->s.p, v->s.len);
    if (v->type == MPX_REF) return mpx__value_ref(v->r.id, v->r.type, strlen(v->r.type));
    mpx_value *c = value_new(v->type);
    if (!c || (v->type != MPX_ARRAY && v->type != MPX_MAP)) {
        if (c) *c = *v;
        return c;
    }
    if (items_reserve(c, v->a.len)) {
        free(c);
        return NULL;
    }
    for (size_t i = 0; i < v->a.len; i++) {
        c->a.items[i] = mpx_value_copy(v->a.items[i]);
        if (!c->a.items[i]) {
            value_destroy(c);
            return NULL;
        }
        c->a.len++;
    }
    return c;
}

static bool int_equal(const mpx_value *a, const mpx_value *b)
{
    if (a->type == b->type) return a->type == MPX_INT ? a->i == b->i : a->u == b->u;
    const mpx_value *s = a->type == MPX_INT ? a : b, *u = a->type == MPX_INT ? b : a;
    return s->i >= 0 && (uint64_t)s->i == u->u;
}

bool mpx_value_equal(const mpx_value *a, const mpx_value *b)
{
    if (!a || !b) return a == b;
    bool a_int = a->type == MPX_INT || a->type == MPX_UINT;
    bool b_int = b->type == MPX_INT || b->type == MPX_UINT;
    if (a_int && b_int) return int_equal(a, b);
    if (a->type != b->type) return false;
    switch (a->type) {
    case MPX_NIL:
        return true;
    case MPX_BOOL:
        return a->b == b->b;
    case MPX_DOUBLE:
        return a->d == b->d;
    case MPX_STR:
    case MPX_BYTES:
        return a->s.len == b->s.len && memcmp(a->s.p, b->s.p, a->s.len) == 0;
    case MPX_REF:
        return a->r.id == b->r.id;
    case MPX_ARRAY:
    case MPX_MAP:
        if (a->a.len != b->a.len) return false;
        for (size_t i = 0; i < a->a.len; i++)
            if (!mpx_value_equal(a->a.items[i], b->a.items[i])) return false;
        return true;
    default:
        return false;
    }
}

mpx_type mpx_value_type(const mpx_value *v)
{
    return v ? v->type : MPX_INVALID;
}

int mpx_value_get_bool(const mpx_value *v, bool *out)
{
    if (!v || v->type != MPX_BOOL || !out) return MPX_ETYPE;
    *out = v->b;
    return 0;
}

int mpx_value_get_int(const mpx_value *v, int64_t *out)
{
    if (!v || !out || (v->type != MPX_INT && v->type != MPX_UINT)) return MPX_ETYPE;
    if (v->type == MPX_UINT && v->u > INT64_MAX) return MPX_EVALUE;
    *out = v->type == MPX_INT ? v->i : (int64_t)v->u;
    return 0;
}

int mpx_value_get_uint(const mpx_value *v, uint64_t *out)
{
    if (!v || !out || (v->type != MPX_INT && v->type != MPX_UINT)) return MPX_ETYPE;
    if (v->type == MPX_INT && v->i < 0) return MPX_EVALUE;
    *out = v->type == MPX_UINT ? v->u : (uint64_t)v->i;
    return 0;
}

int mpx_value_get_double(const mpx_value *v, double *out)
{
    if (!v || !out) return MPX_ETYPE;
    switch (v->type) {
    case MPX_DOUBLE:
        *out = v->d;
        return 0;
    case MPX_INT:
        *out = (double)v->i;
        return 0;
    case MPX_UINT:
        *out = (double)v->u;
        return 0;
    default:
        return MPX_ETYPE;
    }
}

static const char *blob(const mpx_value *v, mpx_type type, size_t *len)
{
    if (!v || v->type != type) return NULL;
    if (len) *len = v->s.len;
    return v->s.p;
}

const char *mpx_value_str(const mpx_value *v, size_t *len)
{
    return blob(v, MPX_STR, len);
}

const void *mpx_value_bytes(const mpx_value *v, size_t *len)
{
    return blob(v, MPX_BYTES, len);
}

size_t mpx_value_len(const mpx_value *v)
{
    if (!v) return 0;
    switch (v->type) {
    case MPX_STR:
    case MPX_BYTES:
        return v->s.len;
    case MPX_ARRAY:
        return v->a.len;
    case MPX_MAP:
        return v->a.len / 2;
    default:
        return 0;
    }
}

const mpx_value *mpx_value_at(const mpx_value *array, size_t i)
{
    return array && array->type == MPX_ARRAY && i < array->a.len ? array->a.items[i] : NULL;
}

const mpx_value *mpx_value_key_at(const mpx_value *map, size_t i)
{
    return map && map->type == MPX_MAP && i < map->a.len / 2 ? map->a.items[2 * i] : NULL;
}

const mpx_value *mpx_value_val_at(const mpx_value *map, size_t i)
{
    return map && map->type == MPX_MAP && i < map->a.len / 2 ? map->a.items[2 * i + 1] : NULL;
}

const mpx_value *mpx_map_get(const mpx_value *map, const char *key)
{
    if (!map || map->type != MPX_MAP || !key) return NULL;
    size_t klen = strlen(key);
    for (size_t i = map->a.len; i >= 2; i -= 2) {
        const mpx_value *k = map->a.items[i - 2];
        if (k->type == MPX_STR && k->s.len == klen && memcmp(k->s.p, key, klen) == 0)
            return map->a.items[i - 1];
    }
    return NULL;
}

/* ---- encoding ---------------------------------------------------------------------------- */

void mpx__wbuf_init(mpx__wbuf *b, size_t reserved)
{
    b->data = b->inline_buf;
    b->size = reserved;
    b->cap = sizeof b->inline_buf;
}

void mpx__wbuf_free(mpx__wbuf *b)
{
    if (b->data != b->inline_buf) free(b->data);
    mpx__wbuf_init(b, 0);
}

/* Makes room for `more` bytes past size. Returns 0, or -1 when out of memory (the buffer
 * is then unchanged). */
static int wbuf_grow(mpx__wbuf *b, size_t more)
{
    if (more <= b->cap - b->size) return 0;
    if (more > SIZE_MAX / 2 - b->size) return -1;
    size_t cap = b->cap * 2;
    while (cap < b->size + more)
        cap *= 2;
    char *n = b->data == b->inline_buf ? malloc(cap) : realloc(b->data, cap);
    if (!n) return -1;
    if (b->data == b->inline_buf) memcpy(n, b->inline_buf, b->size);
    b->data = n;
    b->cap = cap;
    return 0;
}

static inline int wbuf_append(mpx__wbuf *b, const void *p, size_t len)
{
    if (len > b->cap - b->size && wbuf_grow(b, len)) return -1;
    memcpy(b->data + b->size, p, len);
    b->size += len;
    return 0;
}

int mpx__wbuf_write(void *b, const char *p, size_t len)
{
    return wbuf_append(b, p, len);
}

char *mpx__wbuf_release(mpx__wbuf *b)
{
    char *out = b->data;
    if (out == b->inline_buf) {
        out = malloc(b->size ? b->size : 1);
        if (out && b->size) memcpy(out, b->inline_buf, b->size);
    }
    if (out) mpx__wbuf_init(b, 0);
    return out;
}

/* msgpack-c's packing code (msgpack/pack_template.h, behind every msgpack_pack_*) made a
 * second time, as wbuf_pack_*, to write into an mpx__wbuf directly. msgpack.h's packer calls
 * its write callback for every header and every string body: in a map of short strings,
 * those calls cost more than the packing. msgpack-c's pack.h builds its packer the same way. */
#define msgpack_pack_inline_func(name) static inline int wbuf_pack##name
#define msgpack_pack_user mpx__wbuf *
#define msgpack_pack_append_buffer(user, buf, len) return wbuf_append(user, buf, len)
#define msgpack_pack_ext wbuf_pack_ext /* the template's timestamp packer calls it by name */
#include <msgpack/pack_template.h>
#undef msgpack_pack_ext

/* Items fetched ahead when packing an array or a map: each is its own allocation, likely out
 * of cache in a large map by the time it is reached. */
#define PACK_AHEAD 32

/* A str or bin value's header and bytes; up to 32 bytes are copied without a call. Inlined
 * into mpx__value_pack(), which calls it for every item of a container. */
static inline __attribute__((always_inline)) int pack_blob(mpx__wbuf *b, const mpx_value *v)
{
    size_t len = v->s.len;
    int rc = v->type == MPX_STR ? wbuf_pack_str(b, len) : wbuf_pack_bin(b, len);
    if (rc || len > 32) return rc ? rc : wbuf_append(b, v->s.p, len);
    if (len > b->cap - b->size && wbuf_grow(b, len)) return -1;
    mpx__copy_small(b->data + b->size, v->s.p, len);
    b->size += len;
    return 0;
}

/* Packs items[i..n) for as long as they are strings of at most 31 bytes (fixstr), the
 * commonest items, with the write position held in a register: written through the buffer,
 * each byte stored would make the compiler load the buffer's fields again (a char store may
 * alias them). Returns the first item not packed. */
static size_t pack_short_strs(mpx__wbuf *b, mpx_value *const *items, size_t i, size_t n)
{
    char *out = b->data + b->size, *end = b->data + b->cap;
    for (; i < n; i++) {
        if (i + PACK_AHEAD < n) __builtin_prefetch(items[i + PACK_AHEAD]);
        const mpx_value *item = items[i];
        if (item->type != MPX_STR || item->s.len > 31) break;
        if (end - out < 32) { /* room for the longest: a header byte and 31 */
            b->size = (size_t)(out - b->data);
            if (wbuf_grow(b, 32)) return i; /* the caller's packing of item i fails too */
            out = b->data + b->size;
            end = b->data + b->cap;
        }
        size_t len = item->s.len;
        *out = (char)(0xa0 | len);
        mpx__copy_small(out + 1, item->s.p, len);
        out += 1 + len;
    }
    b->size = (size_t)(out - b->data);
    return i;
}

/* An object reference as ext type 1 (decode_ref()). */
static int pack_ref(mpx__wbuf *b, const mpx_value *v)
{
    size_t tlen = strlen(v->r.type);
    uint8_t head[3 + 8] = {0xc7, (uint8_t)(8 + tlen), MPX_REF_EXT_TYPE};
    mpx__put_u64be(head + 3, v->r.id);
    return mpx__wbuf_write(b, (const char *)head, sizeof head) ||
           mpx__wbuf_write(b, v->r.type, tlen);
}

int mpx__value_pack(mpx__wbuf *b, const mpx_value *v)
{
    int rc = 0;
    switch (v->type) {
    case MPX_INVALID: /* never the type of a value */
    case MPX_NIL:
        rc = wbuf_pack_nil(b);
        break;
    case MPX_BOOL:
        rc = v->b ? wbuf_pack_true(b) : wbuf_pack_false(b);
        break;
    case MPX_INT:
        rc = wbuf_pack_int64(b, v->i);
        break;
    case MPX_UINT:
        rc = wbuf_pack_uint64(b, v->u);
        break;
    case MPX_DOUBLE:
        rc = wbuf_pack_double(b, v->d);
        break;
    case MPX_STR:
    case MPX_BYTES:
        rc = pack_blob(b, v);
        break;
    case MPX_REF:
        rc = pack_ref(b, v);
        break;
    case MPX_ARRAY:
    case MPX_MAP:
        rc = v->type == MPX_ARRAY ? wbuf_pack_array(b, v->a.len) : wbuf_pack_map(b, v->a.len / 2);
        for (size_t i = 0; rc == 0 && i < v->a.len; i++) {
            i = pack_short_strs(b, v->a.items, i, v->a.len);
            if (i == v->a.len) break;
            /* each item is its own allocation, likely out of cache in a large array */
            if (i + PACK_AHEAD < v->a.len) __builtin_prefetch(v->a.items[i + PACK_AHEAD]);
            const mpx_value *item = v->a.items[i]; /* a longer string inline, as above */
            rc = item->type == MPX_STR ? pack_blob(b, item) : mpx__value_pack(b, item);
        }
        break;
    }
    return rc == 0 ? 0 : MPX_ENOMEM;
}

int mpx_value_encode(const mpx_value *v, char **buf, size_t *len)
{
    if (!v || !buf || !len) return mpx__fail(MPX_EINVAL, "mpx_value_encode: NULL argument");
    mpx__wbuf b;
    mpx__wbuf_init(&b, 0);
    size_t size = 0;
    char *out = NULL;
    if (mpx__value_pack(&b, v) == 0) {
        size = b.size;
        out = mpx__wbuf_release(&b);
    }
    mpx__wbuf_free(&b);
    if (!out) return mpx__fail(MPX_ENOMEM, "mpx_value_encode: out of memory");
    *buf = out;
    *len = size;
    return 0;
}

/* ---- decoding ---------------------------------------------------------------------------- */

static int decode_at(mpx__mp_cursor *c, int depth, mpx_value **out);

static int decode_items(mpx__mp_cursor *c, int depth, mpx_value *v, uint64_t n)
{
    /* Grow as items arrive rather than trusting the declared count. */
    for (uint64_t i = 0; i < n; i++) {
        mpx_value *item;
        int rc = decode_at(c, depth + 1, &item);
        if (rc) return rc;
        if (items_reserve(v, 1)) {
            value_destroy(item);
            return MPX_ENOMEM;
        }
        depth_take(v, item);
        v->a.items[v->a.len++] = item;
    }
    return 0;
}

static mpx_value *decode_scalar(const mpx__mp_token *t)
{
    switch (t->kind) {
    case MPX_MP_NIL:
        return mpx_nil();
    case MPX_MP_BOOL:
        return mpx_bool(t->b);
    case MPX_MP_UINT:
        return mpx_uint(t->u);
    case MPX_MP_INT:
        return mpx_int(t->i);
    case MPX_MP_F32:
    case MPX_MP_F64:
        return mpx_double(t->d);
    case MPX_MP_STR:
        return value_blob(MPX_STR, t->data, t->len);
    case MPX_MP_BIN:
        return value_blob(MPX_BYTES, t->data, t->len);
    default:
        return NULL;
    }
}

/* An object reference: ext type 1, the id (8 bytes, big-endian) then the type name. */
static int decode_ref(const mpx__mp_token *t, mpx_value **out)
{
    if (t->ext_type != MPX_REF_EXT_TYPE || t->len <= 8 || t->len > 8 + MPX__REF_TYPE_MAX)
        return MPX_EPROTO;
    *out = mpx__value_ref(mpx__get_u64be(t->data), (const char *)t->data + 8, t->len - 8);
    return *out ? 0 : MPX_ENOMEM;
}

static int decode_at(mpx__mp_cursor *c, int depth, mpx_value **out)
{
    mpx__mp_token t;
    int rc = mpx__mp_next(c, &t);
    if (rc) return rc;
    if (t.kind == MPX_MP_EXT) return decode_ref(&t, out);
    if (t.kind != MPX_MP_ARRAY && t.kind != MPX_MP_MAP) {
        *out = decode_scalar(&t);
        return *out ? 0 : MPX_ENOMEM;
    }
    if (depth >= MPX_MAX_DEPTH) return MPX_EPROTO; /* its own level would be one more */
    mpx_value *v = value_new(t.kind == MPX_MP_ARRAY ? MPX_ARRAY : MPX_MAP);
    if (!v) return MPX_ENOMEM;
    rc = decode_items(c, depth, v, t.kind == MPX_MP_MAP ? 2ull * t.len : t.len);
    if (rc) {
        value_destroy(v);
        return rc;
    }
    *out = v;
    return 0;
}

int mpx_value_decode(const void *buf, size_t len, mpx_value **out)
{
    if (!buf || !out) return mpx__fail(MPX_EINVAL, "mpx_value_decode: NULL argument");
    mpx__mp_cursor c;
    mpx_value *v = NULL;
    mpx__mp_init(&c, buf, len);
    int rc = decode_at(&c, 0, &v);
    if (rc == 0 && c.p != c.end) {
        value_destroy(v);
        rc = MPX_EPROTO;
    }
    if (rc)
        return mpx__fail(rc, "mpx_value_decode: %s",
                         rc == MPX_ENOMEM ? "out of memory"
                                          : "malformed, truncated or unsupported msgpack");
    *out = v;
    return 0;
}
