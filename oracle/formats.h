/* Format versions: which stored version each cache type's cases run in
 * (oracle/formats.c). */
#ifndef KVV_ORACLE_FORMATS_H
#define KVV_ORACLE_FORMATS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "kvv/backend.h"
#include "kvv/case.h"
#include "kvv/verdict.h"
#include "backends/registry.h"
#include "dump/dump.h"
#include "model/model.h"
#include "ref/ref.h"
#include "reports/reports.h"
#include "oracle/cases.h"

/* ---- format versions (oracle/formats.c) ---- */
/* Which row each cache type's cases run in: as[KVV_TURBO3] = KVV_TURBO3_QK128
 * when a backend of the run stores turbo3 that way (as[t] = t otherwise). */
#define KVV_FORMAT_NOTE 480
typedef struct kvv_format_map {
    kvv_type as[KVV_TYPE_COUNT];
    char who[KVV_TYPE_COUNT][128];             /* the backend that stores it so */
    char note[KVV_TYPE_COUNT][KVV_FORMAT_NOTE]; /* how it knows (its format probe) */
} kvv_format_map;
void kvv_format_map_init(kvv_format_map *m);
/* Ask each library backend of names (in a child process each) which
 * version it stores every cache type in.  A backend that cannot be asked is
 * reported to log and left out.  -1 with why when two backends store one
 * cache type in different versions (they cannot share a case list). */
int kvv_formats_ask(const char *const *names, int n, kvv_format_map *m, FILE *log, char *why, size_t why_len);
/* Rewrite a case list to those versions; cases a version cannot hold (its
 * block does not divide the head dim) are dropped and counted. */
struct kvv_case_list;
int kvv_formats_rewrite(const kvv_format_map *m, struct kvv_case_list *l, int *dropped);
/* `kvverify probe`: what backend `name` says of each cache type (the row
 * it stores it as, and how it knows), asked in a child process; -1 when it
 * cannot be opened or asked (the reason is printed). */
int kvv_formats_report(const char *name, FILE *out);
/* How many cache types the map moves to another version. */
int kvv_format_map_changes(const kvv_format_map *m);

#endif
