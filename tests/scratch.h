/* A scratch directory for a test program's files: made on first use under
 * /tmp with the program's prefix, removed (with the files in it) at the end. */
#ifndef KVV_TESTS_SCRATCH_H
#define KVV_TESTS_SCRATCH_H

#include <CUnit/CUnit.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char scratch[64];

/* prefix: the directory name before the mkdtemp suffix, e.g. "kvv-dump".
 * The path stays valid for the next three calls. */
static inline const char *scratch_path(const char *prefix, const char *name)
{
    static char buf[4][256];
    static int k;
    if (!scratch[0]) {
        snprintf(scratch, sizeof scratch, "/tmp/%s-XXXXXX", prefix);
        CU_ASSERT_FATAL(mkdtemp(scratch) != NULL);
    }
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", scratch, name);
    return buf[k];
}

static inline void scratch_remove(void)
{
    if (!scratch[0])
        return;
    DIR *d = opendir(scratch);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", scratch, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(scratch);
    scratch[0] = 0;
}

#endif
