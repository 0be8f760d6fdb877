/* Defect backends: the CPU backend with known bugs planted around it at run
 * time, so that a test can show a check catches them.
 *
 * A defect is asked for by name:
 *  - a mutant of ci/mutants.txt ("double_rotation"): the same bug as the
 *    mutant that `make mutants` compiles into the kernels (KVV_FAULT), made
 *    here by changing what goes into and comes out of the honest kernels;
 *  - a variant of one, "mutant@variant" ("toggle_path@uncached"): another
 *    shape the same bug of SPEC 5 has taken;
 *  - a generic fault ("crash", "flip_bit"...): the test scaffolding a
 *    runner or a report needs (not a bug that shipped).
 * kvv_defect_catalogue lists them all with what each does.
 *
 * A plant can be limited to the calls whose name matches a glob (fnmatch,
 * '*' crossing '/'; alternatives separated by '|').  A call's name is the
 * start of the case name it would have:
 *     quant/TYPE/dCOLS/rowsROWS        dequant/TYPE/dCOLS/rowsROWS
 *     wht/dCOLS/gGROUP/rowsROWS        attn/dDK[/dvDV]/K-V/nqQ/nkvN/hH/gqaG
 * e.g. "quant/q4_0/d64/rows16", or "attn/d128/turbo3-q4_0" followed by a
 * '*' for the rest of an attention call's name. */
#ifndef KVV_TESTS_HARNESS_DEFECT_H
#define KVV_TESTS_HARNESS_DEFECT_H

#include "kvv/backend.h"

typedef struct kvv_plant {
    const char *defect; /* a name of the catalogue */
    const char *where;  /* a glob over call names; NULL: every call */
} kvv_plant;

/* A new backend named bname: the CPU backend with the plants.  An unknown
 * defect name fails the test there (and gives NULL).  Free it with
 * kvv_defect_free (or its destroy entry). */
kvv_backend *kvv_defect_backend(const char *bname, const kvv_plant *plants, int n);
/* One defect on every call, in a backend named "defective". */
kvv_backend *kvv_defect(const char *defect);
void kvv_defect_free(kvv_backend *b);

typedef struct kvv_defect_info {
    const char *name;   /* as asked for */
    const char *mutant; /* the mutant of ci/mutants.txt it re-creates; NULL for a generic fault */
    const char *what;   /* what the planted backend does */
} kvv_defect_info;
const kvv_defect_info *kvv_defect_catalogue(int *n);

/* The mutants of ci/mutants.txt (of the source tree), in file order: their
 * number, or -1 when the file cannot be read.  names[i] points into a
 * buffer kept until exit. */
int kvv_mutant_names(const char ***names);

#endif
