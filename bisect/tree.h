/* The driver's state, shared by bisect/driver.c (the steps, the ends, the
 * result) and bisect/tree.c (the temporary clone, the state folder, git);
 * inside bisect/ only. */
#ifndef KVV_BISECT_TREE_H
#define KVV_BISECT_TREE_H

#include <stddef.h>
#include <stdio.h>

#include "bisect/bisect.h"

typedef struct {
    const kvv_bisect_opts *a;
    char gitdir[4096], home[4096], state[4200], driver[4300];
    char tmp[64], tree[128];
    char good[64], bad[64];
    const char *term_new, *term_old; /* git bisect's terms: bad/good, or fixed/broken */
    FILE *log;
    char *step[KVV_BISECT_MAX_ARGS + 24];
    int nstep;
} bisect_t;

/* git in directory dir with args (NULL-terminated), output to the log */
int bisect_git_in(bisect_t *b, const char *dir, char **args);
/* git in dir with args, its stdout into buf (kvv_proc_capture) */
int bisect_git_capture(const char *dir, char **args, char *buf, size_t n);
/* The state folder <git-dir>/kvverify-bisect: the driver's copy of this
 * binary (and of the ggml adapter beside it), bisect.log; 0 or -1 with
 * errno. */
int bisect_state_setup(bisect_t *b);
/* The temporary clone (b->tmp, b->tree), checked out at b->bad: 0, or -1
 * with a message printed.  bare: the repository has no work tree. */
int bisect_make_tree(bisect_t *b, int bare);
/* Remove it (nothing when it was not made). */
void bisect_remove_tree(bisect_t *b);

#endif
