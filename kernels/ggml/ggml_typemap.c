/* Which ggml type stores each kvverify type, and how its bytes are made.
 *
 * Upstream ggml has the nine plain types: the default rows below.  Forks
 * add their own, with enum values, block sizes and tables that change from
 * commit to commit, so those are found in the loaded library itself: its
 * type table is walked, and every type named turbo<N> is probed
 * (ggml_probe.c) to learn which format version it stores.  A row of a map
 * file (option types=FILE or KVV_GGML_TYPES) overrides what was found:
 *
 *     # kvverify type   ggml enum   ggml type name   [set_rows|chunk]
 *     turbo3@qk128      43          turbo3
 *
 * and is checked against the loaded library before use: the enum value must
 * carry that name in ggml_type_name(), the block size and bytes must be
 * kvverify's, and the probe must read that format version from the type, so
 * a map written for another build is refused at load with the row that is
 * wrong, never used to store the wrong bytes. */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/ggml/ggml_adapter.h"

/* kvverify's types as a plugin knows them: the header-only facts of
 * include/kvv/formats.def, range-checked (NULL past the table). */
const gg_kvv_type *gg_kvv_type_get(kvv_type t)
{
    return kvv_format_get(t);
}

/* How upstream ggml makes a row's bytes: a cache type's default format is
 * what the cache write gives (set_rows; for iq4_nl quantize_row_iq4_nl_ref,
 * no scale search), another version of an upstream type the other path
 * that ggml has, ggml_quantize_chunk (iq4_nl@search: the scale search). */
static gg_quant_path upstream_path(const gg_kvv_type *k)
{
    return k->format_version == 0 ? GG_Q_SET_ROWS : GG_Q_CHUNK;
}

static void set_row(gg_typemap *m, kvv_type t, int ggml, const char *name, gg_quant_path q)
{
    m->e[t].ggml = ggml;
    snprintf(m->e[t].ggml_name, sizeof m->e[t].ggml_name, "%s", name);
    m->e[t].quant = q;
    m->e[t].from_file = 0;
}

/* Whether another row is the same upstream type made by ggml_quantize_chunk. */
static int has_chunk_version(const gg_kvv_type *k)
{
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        const gg_kvv_type *o = gg_kvv_type_get((kvv_type)t);
        if (o != k && o->ggml == k->ggml && upstream_path(o) == GG_Q_CHUNK)
            return 1;
    }
    return 0;
}

/* Upstream ggml (enum ggml_type of ggml.h): the rows with a ggml value in
 * kvv/formats.def, named as their cache type. */
void gg_typemap_default(gg_typemap *m, int chunk)
{
    for (int t = 0; t < KVV_TYPE_COUNT; t++)
        set_row(m, (kvv_type)t, -1, "", GG_Q_NONE);
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        const gg_kvv_type *k = gg_kvv_type_get((kvv_type)t);
        if (k->ggml < 0)
            continue;
        /* ggml_quantize_chunk cannot make the cache write's bytes where it
         * has a version of its own (iq4_nl: the scale search) */
        if (chunk && upstream_path(k) == GG_Q_SET_ROWS && has_chunk_version(k))
            continue;
        set_row(m, (kvv_type)t, k->ggml, k->cache, chunk ? GG_Q_CHUNK : upstream_path(k));
    }
}

int gg_typemap_load(gg_typemap *m, const char *path, char *why, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, n, "type map %s: cannot open", path);
        return -1;
    }
    char line[512];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s || *s == '#')
            continue;
        char kname[64], gname[32], how[32] = "set_rows";
        int ge, k = sscanf(s, "%63s %d %31s %31s", kname, &ge, gname, how);
        kvv_type t = k >= 3 ? kvv_format_named(kname) : KVV_TYPE_NONE;
        gg_quant_path q = !strcmp(how, "set_rows") ? GG_Q_SET_ROWS : !strcmp(how, "chunk") ? GG_Q_CHUNK : GG_Q_NONE;
        if (k < 3 || t == KVV_TYPE_NONE || ge < 0 || q == GG_Q_NONE) {
            snprintf(why, n,
                     "type map %s:%d: want '<kvverify type> <ggml enum> <ggml type name> [set_rows|chunk]'%s%s%s",
                     path, lineno, k >= 1 && t == KVV_TYPE_NONE ? " (unknown kvverify type '" : "",
                     k >= 1 && t == KVV_TYPE_NONE ? kname : "", k >= 1 && t == KVV_TYPE_NONE ? "')" : "");
            rc = -1;
            break;
        }
        set_row(m, t, ge, gname, q);
        m->e[t].from_file = 1;
    }
    fclose(f);
    return rc;
}

/* ggml has no GGML_TYPE_COUNT at run time, and its type functions index
 * their table unchecked.  So the count is found by walking the traits
 * table: every entry's name points into libggml-base's own constants and
 * reads as text (removed types are named "DEPRECATED" or "... REMOVED ...",
 * older versions leave them NULL); the first entry that is neither is past
 * the end.  A name is read only once it is shown to lie inside the
 * library. */
static int plausible_name(const char *p, const void *lib_base)
{
    Dl_info di;
    if (!dladdr(p, &di) || di.dli_fbase != lib_base)
        return 0;
    size_t i = 0;
    for (; i < 96 && p[i]; i++)
        if (!isprint((unsigned char)p[i]))
            return 0;
    return i > 0 && i < 96;
}

/* Entry n of the traits table, found from entry 0 without calling
 * ggml_get_type_traits(n): ggml before 2026 asserts n < GGML_TYPE_COUNT
 * there (an abort, not an answer), so the walk steps through the table
 * itself, one struct at a time (entries 0 and 1 are 'f32' and 'f16' in every
 * ggml, and their distance must be the struct's size). */
static const gg_type_traits *traits_at(const gg_api *api, int n)
{
    const gg_type_traits *t0 = api->get_type_traits(GG_TYPE_F32), *t1 = api->get_type_traits(GG_TYPE_F16);
    if ((const char *)t1 - (const char *)t0 != (ptrdiff_t)sizeof *t0)
        return NULL;
    return t0 + n;
}

static int type_count(const gg_api *api)
{
    Dl_info di;
    void *fn;
    memcpy(&fn, &api->get_type_traits, sizeof fn);
    if (!dladdr(fn, &di) || !traits_at(api, 0))
        return 0;
    int n = 0, nulls = 0;
    for (; n < 128 && nulls < 4; n++) { /* ggml's gaps of removed types are at most 3 long */
        const char *name = traits_at(api, n)->type_name;
        if (name && !plausible_name(name, di.dli_fbase))
            break;
        nulls = name ? 0 : nulls + 1;
    }
    /* removed types at the end of the walk are past the table, not in it */
    while (n > 0 && !traits_at(api, n - 1)->type_name)
        n--;
    return n;
}

int gg_typemap_check(const gg_typemap *m, const gg_api *api, char *why, size_t n)
{
    const int count = type_count(api);
    if (count < 31 || strcmp(api->get_type_traits(GG_TYPE_F16)->type_name, "f16")) {
        snprintf(why, n, "ggml's type traits do not read back as ggml 0.25 lays them out (%d types found)", count);
        return -1;
    }
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        const gg_type_entry *e = &m->e[t];
        const gg_kvv_type *k = gg_kvv_type_get((kvv_type)t);
        if (e->ggml < 0 || (!e->from_file && k->rotated)) /* found rows were read off the library */
            continue;
        if (e->ggml >= count) {
            snprintf(why, n, "type map: %s -> ggml enum %d '%s', but this ggml has %d types", k->name,
                     e->ggml, e->ggml_name, count);
            return -1;
        }
        const gg_type_traits *tr = api->get_type_traits(e->ggml);
        const char *gn = tr ? tr->type_name : NULL;
        if (!gn || strcmp(gn, e->ggml_name)) {
            snprintf(why, n, "type map: %s -> ggml enum %d '%s', but this ggml calls %d '%s'", k->name,
                     e->ggml, e->ggml_name, e->ggml, gn ? gn : "(nothing)");
            return -1;
        }
        if (api->blck_size(e->ggml) != k->block || (int)api->type_size(e->ggml) != k->bytes) {
            snprintf(why, n, "type map: %s is %d bytes per %d values, but ggml's %s is %zu per %lld",
                     k->name, k->bytes, k->block, gn, api->type_size(e->ggml),
                     (long long)api->blck_size(e->ggml));
            return -1;
        }
        if (k->rotated) { /* a map file's claim about a TurboQuant type: the probe must agree */
            gg_probe pr;
            gg_probe_type(tr->to_float, gn, e->ggml, api->blck_size(e->ggml), api->type_size(e->ggml), (kvv_type)t, &pr);
            if (pr.match != (kvv_type)t) {
                snprintf(why, n, "type map: %s -> ggml enum %d '%s', but the format probe reads %s", k->name,
                         e->ggml, gn, pr.text);
                return -1;
            }
        }
    }
    return 0;
}

/* The probe of one library type, run in a child process: a fork's to_float
 * may crash or hang (one did, at a commit whose dequantizer indexed past its
 * block), and that must be a finding about the type, not the end of the
 * adapter.  The child writes the probe's result to a pipe. */
static void probe_isolated(const gg_type_traits *tr, gg_found *f, kvv_type claim)
{
    int fds[2];
    if (pipe(fds)) {
        gg_probe_type(tr->to_float, f->name, f->ggml, f->block, f->bytes, claim, &f->probe);
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        alarm(60);
        gg_probe p;
        gg_probe_type(tr->to_float, f->name, f->ggml, f->block, f->bytes, claim, &p);
        ssize_t w = write(fds[1], &p, sizeof p);
        _exit(w == (ssize_t)sizeof p ? 0 : 1);
    }
    close(fds[1]);
    size_t have = 0;
    ssize_t r = 0;
    while (pid > 0 && have < sizeof f->probe &&
           ((r = read(fds[0], (char *)&f->probe + have, sizeof f->probe - have)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            have += (size_t)r;
    close(fds[0]);
    int st = 0;
    while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (pid > 0 && have == sizeof f->probe && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        f->probe.text[sizeof f->probe.text - 1] = 0;
        if (f->probe.match != KVV_TYPE_NONE && !gg_kvv_type_get(f->probe.match))
            f->probe.match = KVV_TYPE_NONE; /* the child's answer names no row: not a match */
        return;
    }
    memset(&f->probe, 0, sizeof f->probe);
    f->probe.match = KVV_TYPE_NONE;
    f->probe.crashed = 1;
    gg_probe_family(f->name, f->probe.family, sizeof f->probe.family);
    f->probe.known_family = gg_probe_family_known(f->probe.family);
    char how[96];
    if (pid < 0)
        snprintf(how, sizeof how, "could not be run in a child process");
    else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
        snprintf(how, sizeof how, "hung (no answer in 60 s)");
    else if (WIFSIGNALED(st))
        snprintf(how, sizeof how, "crashed (%s, signal %d)", strsignal(WTERMSIG(st)), WTERMSIG(st));
    else
        snprintf(how, sizeof how, "failed (exit status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    snprintf(f->probe.text, sizeof f->probe.text, "%s (ggml %d, %lld values in %zu bytes): its to_float %s while probed",
             f->name, f->ggml, (long long)f->block, f->bytes, how);
}

int gg_typemap_discover(gg_typemap *m, const gg_api *api, int chunk)
{
    const int count = type_count(api);
    m->nfound = 0;
    for (int i = 0; i < count && m->nfound < GG_MAX_FOUND; i++) {
        const gg_type_traits *tr = api->get_type_traits(i);
        char fam[16];
        if (!tr || !tr->type_name)
            continue;
        gg_probe_family(tr->type_name, fam, sizeof fam);
        if (!*fam)
            continue;
        /* a type that a map file names is probed as what the file says */
        kvv_type claim = KVV_TYPE_NONE;
        for (int t = 0; t < KVV_TYPE_COUNT; t++)
            if (m->e[t].from_file && m->e[t].ggml == i)
                claim = (kvv_type)t;
        gg_found *f = &m->found[m->nfound++];
        f->ggml = i;
        snprintf(f->name, sizeof f->name, "%s", tr->type_name);
        f->block = api->blck_size(i);
        f->bytes = api->type_size(i);
        probe_isolated(tr, f, claim);
        kvv_type t = f->probe.match;
        if (claim == KVV_TYPE_NONE && t != KVV_TYPE_NONE && !m->e[t].from_file && m->e[t].ggml < 0)
            set_row(m, t, i, tr->type_name, chunk ? GG_Q_CHUNK : GG_Q_SET_ROWS);
    }
    return m->nfound;
}

/* the library type found for a cache family, or NULL */
static const gg_found *found_of(const gg_typemap *m, const char *family)
{
    for (int i = 0; i < m->nfound; i++)
        if (!strcmp(m->found[i].probe.family, family))
            return &m->found[i];
    return NULL;
}

/* the row of a family that the map serves, or KVV_TYPE_NONE */
static kvv_type served_version(const gg_typemap *m, const char *family)
{
    int nf;
    const gg_format *fm = gg_formats(&nf);
    for (int i = 0; i < nf; i++)
        if (!strcmp(fm[i].cache, family) && m->e[fm[i].type].ggml >= 0)
            return fm[i].type;
    return KVV_TYPE_NONE;
}

const gg_found *gg_typemap_broken_found(const gg_typemap *m, kvv_type t)
{
    const gg_format *f = gg_format_of(t);
    if (!f || m->e[t].ggml >= 0 || served_version(m, f->cache) != KVV_TYPE_NONE)
        return NULL;
    const gg_found *g = found_of(m, f->cache);
    return g && g->probe.match == KVV_TYPE_NONE ? g : NULL;
}

const char *gg_typemap_broken(const gg_typemap *m, kvv_type t, int *crashed)
{
    const gg_found *g = gg_typemap_broken_found(m, t);
    if (g && crashed)
        *crashed = g->probe.crashed;
    return g ? g->probe.text : NULL;
}

kvv_type gg_typemap_stored_as(const gg_typemap *m, kvv_type cache, char *note, size_t n)
{
    const gg_format *f = gg_format_of(cache);
    if (note && n)
        note[0] = 0;
    if (!f)
        return (unsigned)cache < KVV_TYPE_COUNT && m->e[cache].ggml >= 0 ? cache : KVV_TYPE_NONE;
    kvv_type v = served_version(m, f->cache);
    const gg_found *g = found_of(m, f->cache);
    if (note && g)
        snprintf(note, n, "%s", g->probe.text);
    else if (note && v != KVV_TYPE_NONE)
        snprintf(note, n, "ggml %d '%s' (type map)", m->e[v].ggml, m->e[v].ggml_name);
    else if (note)
        snprintf(note, n, "this ggml has no %s type", f->cache);
    return v;
}

void gg_typemap_summary(const gg_typemap *m, char *out, size_t n)
{
    size_t l = 0;
    out[0] = 0;
    for (int i = 0; i < m->nfound && l < n; i++) {
        const gg_found *f = &m->found[i];
        const gg_kvv_type *k = gg_kvv_type_get(f->probe.match);
        const char *v = k                  ? k->name
                        : f->probe.crashed      ? "its to_float crashed"
                        : f->probe.known_family ? "no known format"
                                                : "not a kvverify type";
        l += (size_t)snprintf(out + l, n - l, "%s%s (%d) = %s", i ? ", " : "", f->name, f->ggml, v);
    }
}
