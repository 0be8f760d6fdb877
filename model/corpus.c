/* Finding the files that ship in corpora/: $KVV_CORPORA_DIR, else the
 * installed copy beside the program (KVV_INSTALLED_CORPORA, relative to the
 * program's folder: `cmake --install` puts it in share/kvverify; a build
 * tree has none), else the source tree this binary was built from
 * (KVV_CORPORA_DIR at compile time), else ./corpora. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "proc/proc.h"

#ifndef KVV_CORPORA_DIR
#define KVV_CORPORA_DIR ""
#endif
#ifndef KVV_INSTALLED_CORPORA
#define KVV_INSTALLED_CORPORA ""
#endif

/* <folder of this program>/rel, or "" */
static void beside_program(const char *rel, char *buf, size_t len)
{
    if (!*rel || kvv_beside_self(rel, buf, len))
        buf[0] = 0;
}

const char *kvv_corpus_path(const char *file, char *buf, size_t len)
{
    char installed[4200];
    beside_program(KVV_INSTALLED_CORPORA, installed, sizeof installed);
    const char *dirs[4] = {getenv("KVV_CORPORA_DIR"), installed, KVV_CORPORA_DIR, "corpora"};
    for (int i = 0; i < 4; i++) {
        if (!dirs[i] || !*dirs[i])
            continue;
        snprintf(buf, len, "%s/%s", dirs[i], file);
        if (access(buf, R_OK) == 0)
            return buf;
    }
    return NULL;
}
