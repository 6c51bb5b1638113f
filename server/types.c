/*
 * types.c — the table of object types mpxd serves, and finding a type or a method by name.
 * Adding a type is its t_<type>.c file and a line here.
 */
#include <string.h>

#include "object.h"

static const mpx__type *const types[] = {
    &mpx__type_dict,
    &mpx__type_value,
    &mpx__type_queue,
    &mpx__type_joinable_queue,
    &mpx__type_lock,
    &mpx__type_rlock,
    &mpx__type_event,
    &mpx__type_semaphore,
    &mpx__type_bounded_semaphore,
    &mpx__type_barrier,
    &mpx__type_condition,
    &mpx__type_list,
    &mpx__type_set,
    &mpx__type_namespace,
    &mpx__type_typed_value,
    &mpx__type_array,
};

const mpx__type *mpx__type_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strlen(types[i]->name) == len && memcmp(types[i]->name, name, len) == 0)
            return types[i];
    return NULL;
}

const mpx__method *mpx__type_method(const mpx__type *t, const char *name, size_t len)
{
    for (size_t i = 0; i < t->n_methods; i++)
        if (strlen(t->methods[i].name) == len && memcmp(t->methods[i].name, name, len) == 0)
            return &t->methods[i];
    return NULL;
}

size_t mpx__type_index(const mpx__type *t)
{
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (types[i] == t) return i;
    return MPX__N_TYPES - 1; /* the manager's: never counted */
}

const mpx__type *mpx__type_at(size_t i)
{
    return i < sizeof types / sizeof *types ? types[i] : NULL;
}

_Static_assert(sizeof types / sizeof *types < MPX__N_TYPES, "MPX__N_TYPES is too small");
