/* Models by name, for the callers that take any model (`kvverify ppl`) and
 * those that build the probe (the ppl cases): a GGUF file, or the probe
 * model built for a corpus and loaded. */
#include <stdio.h>
#include <stdlib.h>

#include "kvv/case.h"
#include "model/model.h"

int kvv_probe_model_load(const kvv_probe_params *p, const char *corpus, size_t len, kvv_model *m, char *err,
                         size_t err_len)
{
    uint8_t *gguf = NULL;
    size_t size = 0;
    kvv_gguf g;
    int rc = -1;
    if (kvv_probe_build(p, corpus, len, &gguf, &size, err, err_len) == 0 &&
        kvv_gguf_parse(gguf, size, &g, err, err_len) == 0) {
        rc = kvv_model_load(&g, m, err, err_len);
        kvv_gguf_free(&g);
    }
    free(gguf);
    return rc;
}

int kvv_model_open(const char *name, const kvv_probe_params *p, kvv_model *m, char *err, size_t err_len)
{
    kvv_probe_kind kind = kvv_probe_from_name(name);
    if (kind == KVV_PROBE_COUNT)
        return kvv_model_load_file(name, m, err, err_len);
    kvv_probe_params q = *p;
    q.hybrid = kind == KVV_PROBE_HYBRID;
    char path[1024];
    size_t len;
    char *text = kvv_corpus_path("probe.txt", path, sizeof path) ? kvv_read_file(path, &len, err, err_len) : NULL;
    int rc = -1;
    if (!text)
        snprintf(err, err_len, "corpora/probe.txt not found (set KVV_CORPORA_DIR)");
    else
        rc = kvv_probe_model_load(&q, text, len, m, err, err_len);
    free(text);
    return rc;
}
