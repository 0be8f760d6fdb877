/* Guard zones around the buffers a backend writes (oracle/guard.c). */
#ifndef KVV_ORACLE_GUARD_H
#define KVV_ORACLE_GUARD_H

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

/* ---- guard zones (oracle/guard.c): the buffers a backend writes ----
 * The output of attention, the quantized and dequantized rows and the WHT
 * rows are allocated with a guard after their end: KVV_GUARD_ZONE bytes of
 * a pattern that kvv_guard_check compares after each call (a backend that
 * wrote past the end fails the case, rule crash, "backend wrote N bytes
 * past out"), or in page mode (`--guard`) a PROT_NONE page right at the
 * end, which stops the first access past it; its fault handler writes what
 * the page guards into the note area and to stderr before the signal kills
 * the process. */
#define KVV_GUARD_ZONE 4096
/* n zeroed bytes (64-byte aligned; in page mode only as aligned as n
 * allows, since the end is fixed) named `what` (a string that outlives the
 * buffer); NULL when memory runs out. */
void *kvv_guard_alloc(size_t n, const char *what);
/* 0 when the guards are intact; -1 with *past = how many bytes past the end
 * were written (the farthest changed byte), or *before > 0 when the header
 * in front of the data was written over. */
int kvv_guard_check(const void *p, size_t *past, size_t *before);
void kvv_guard_free(void *p);
/* Page mode for the allocations that follow (and the fault handler). */
void kvv_guard_pages(int on);
/* Where the fault handler leaves its message (shared with a parent). */
void kvv_guard_note_area(char *area, size_t n);
/* Guarded buffers for a model run (ppl): the K and V rows a backend
 * quantizes and the attention output, checked after each call. */
extern const kvv_model_buffers kvv_guarded_buffers;

#endif
