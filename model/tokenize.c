/* Tokenization: greedy longest match over the vocabulary's strings.
 *
 * Exact for the probe's character vocabulary (every token is one character)
 * and for byte-level vocabularies; for a BPE or SentencePiece vocabulary it
 * is an approximation (a merge order is not a longest match), which is
 * enough to compare two runs of the same model on the same tokens.  A byte
 * that no token starts with becomes the "<0xNN>" byte token when the
 * vocabulary has one, else the unknown token (else it is skipped). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

typedef struct {
    int *ids;   /* token ids by first byte, longest first */
    int start[257];
    int bytetok[256];
} buckets;

static const kvv_model *sort_model;
static int by_len_desc(const void *a, const void *b)
{
    size_t la = strlen(sort_model->tokens[*(const int *)a]), lb = strlen(sort_model->tokens[*(const int *)b]);
    if (la != lb)
        return la < lb ? 1 : -1;
    return *(const int *)a - *(const int *)b;
}

static int build(const kvv_model *m, buckets *b)
{
    int count[256] = {0};
    for (int i = 0; i < 256; i++)
        b->bytetok[i] = -1;
    for (int t = 0; t < m->n_vocab; t++) {
        const unsigned char *s = (const unsigned char *)m->tokens[t];
        unsigned v;
        if (s[0])
            count[s[0]]++;
        if (strlen((const char *)s) == 6 && sscanf((const char *)s, "<0x%2X>", &v) == 1 && v < 256)
            b->bytetok[v] = t;
    }
    b->start[0] = 0;
    for (int c = 0; c < 256; c++)
        b->start[c + 1] = b->start[c] + count[c];
    b->ids = malloc(sizeof(int) * (size_t)(b->start[256] ? b->start[256] : 1));
    if (!b->ids)
        return -1;
    int fill[256];
    memcpy(fill, b->start, sizeof fill);
    for (int t = 0; t < m->n_vocab; t++) {
        const unsigned char *s = (const unsigned char *)m->tokens[t];
        if (s[0])
            b->ids[fill[s[0]]++] = t;
    }
    /* qsort has no context argument in C11: the model is set for the sort only */
    sort_model = m;
    for (int c = 0; c < 256; c++)
        qsort(b->ids + b->start[c], (size_t)count[c], sizeof(int), by_len_desc);
    sort_model = NULL;
    return 0;
}

int kvv_model_tokenize(const kvv_model *m, const char *text, size_t len, int32_t *tokens, int max)
{
    buckets b;
    if (build(m, &b))
        return 0;
    int n = 0;
    size_t i = 0;
    while (i < len && n < max) {
        unsigned char c = (unsigned char)text[i];
        int best = -1;
        size_t blen = 1;
        for (int k = b.start[c]; k < b.start[c + 1]; k++) {
            const char *s = m->tokens[b.ids[k]];
            size_t l = strlen(s);
            if (l <= len - i && !memcmp(s, text + i, l)) {
                best = b.ids[k];
                blen = l;
                break;
            }
        }
        if (best < 0)
            best = b.bytetok[c] >= 0 ? b.bytetok[c] : m->unk_id;
        if (best >= 0)
            tokens[n++] = best;
        i += blen;
    }
    free(b.ids);
    return n;
}
