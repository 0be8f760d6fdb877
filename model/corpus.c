/* Finding the files that ship in corpora/: $KVV_CORPORA_DIR, else the source
 * tree this binary was built from (KVV_CORPORA_DIR at compile time), else
 * ./corpora. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "model/model.h"

const char *kvv_corpus_path(const char *file, char *buf, size_t len)
{
    const char *dirs[3] = {getenv("KVV_CORPORA_DIR"),
#ifdef KVV_CORPORA_DIR
                           KVV_CORPORA_DIR,
#else
                           NULL,
#endif
                           "corpora"};
    for (int i = 0; i < 3; i++) {
        if (!dirs[i] || !*dirs[i])
            continue;
        snprintf(buf, len, "%s/%s", dirs[i], file);
        if (access(buf, R_OK) == 0)
            return buf;
    }
    return NULL;
}
