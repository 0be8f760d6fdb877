/* The temporary clone a bisect runs in, the state folder it keeps its logs
 * and its copy of the driver in, and git. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bisect/tree.h"
#include "proc/proc.h"

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    int rc = in && out ? 0 : -1;
    char buf[1 << 16];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in)
        fclose(in);
    if (out && fclose(out))
        rc = -1;
    return rc ? -1 : chmod(to, 0755);
}

/* The ggml adapter is found next to the running binary (oracle/backends.c),
 * so the driver's copy takes it along: a -b ggml-cpu:... step then loads the
 * adapter of this build, not one rebuilt mid-run.  A build without it
 * copies nothing (its steps name other backends). */
static int copy_adapter(const char *state)
{
    char exe[4096], to[4400];
    if (kvv_beside_self("libkvv_ggml.so", exe, sizeof exe) || access(exe, R_OK))
        return 0;
    snprintf(to, sizeof to, "%s/libkvv_ggml.so", state);
    return copy_file(exe, to);
}

int bisect_git_in(bisect_t *b, const char *dir, char **args)
{
    char *argv[24] = {"git", "-C", (char *)dir};
    int k = 3;
    for (int i = 0; args[i] && k < 23; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    fflush(b->log);
    return kvv_proc_run(argv, fileno(b->log));
}

int bisect_git_capture(const char *dir, char **args, char *buf, size_t n)
{
    char *argv[24] = {"git", "-C", (char *)dir};
    int k = 3;
    for (int i = 0; args[i] && k < 23; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    return kvv_proc_capture(argv, buf, n);
}

int bisect_state_setup(bisect_t *b)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/bisect.log", b->state);
    if ((mkdir(b->state, 0755) && errno != EEXIST) || copy_file("/proc/self/exe", b->driver) ||
        copy_adapter(b->state) || !(b->log = fopen(path, "w")))
        return -1;
    return 0;
}

/* The temporary clone: shares the objects of the repository, holds the
 * files --tree asks for. */
int bisect_make_tree(bisect_t *b, int bare)
{
    const kvv_bisect_opts *a = b->a;
    snprintf(b->tmp, sizeof b->tmp, "/tmp/kvverify-bisect-XXXXXX");
    if (!mkdtemp(b->tmp)) {
        fprintf(stderr, "kvverify: cannot make a temporary folder: %s\n", strerror(errno));
        return -1;
    }
    snprintf(b->tree, sizeof b->tree, "%s/tree", b->tmp);
    char *clone[] = {"clone", "--quiet", "--shared", "--no-checkout", b->gitdir, b->tree, NULL};
    if (bisect_git_in(b, "/", clone)) {
        fprintf(stderr, "kvverify: cannot clone %s into %s (see %s/bisect.log)\n", b->gitdir, b->tree, b->state);
        return -1;
    }
    const char *mode = a->tree ? a->tree : bare ? "none" : "full";
    if (strcmp(mode, "full")) {
        /* sparse: only the folders asked for (none: a pattern nothing matches) */
        char *args[KVV_BISECT_MAX_ARGS] = {"sparse-checkout", "set", "--no-cone"};
        static char pats[16][300];
        int k = 3, np = 0;
        if (!strcmp(mode, "none")) {
            args[k++] = "/.kvverify-bisect-holds-no-files";
        } else {
            char list[2048];
            snprintf(list, sizeof list, "%s", mode);
            char *save = NULL;
            for (char *p = strtok_r(list, ",", &save); p && np < 16; p = strtok_r(NULL, ",", &save), np++) {
                snprintf(pats[np], sizeof pats[np], "/%s/", p);
                args[k++] = pats[np];
            }
        }
        args[k] = NULL;
        if (bisect_git_in(b, b->tree, args)) {
            fprintf(stderr, "kvverify: git sparse-checkout failed in %s (see %s/bisect.log)\n", b->tree, b->state);
            return -1;
        }
    }
    char *co[] = {"checkout", "-q", "--detach", b->bad, NULL};
    if (bisect_git_in(b, b->tree, co)) {
        fprintf(stderr, "kvverify: cannot check out %s in the temporary tree (files missing from the repository? "
                        "--tree none or --tree FOLDERS checks out less; see %s/bisect.log)\n", a->bad, b->state);
        return -1;
    }
    return 0;
}

void bisect_remove_tree(bisect_t *b)
{
    if (!b->tmp[0] || strncmp(b->tmp, "/tmp/kvverify-bisect-", 21))
        return;
    char *rm[] = {"rm", "-rf", b->tmp, NULL};
    kvv_proc_run(rm, b->log ? fileno(b->log) : -1);
}
