/* Listings for `kvverify list types` and `list tables` (tools/listing.c). */
#ifndef KVV_TOOLS_LISTING_H
#define KVV_TOOLS_LISTING_H

#include <stdio.h>

/* The type table: one row per type with its layout and which functions
 * the reference and the CPU backend provide. */
void kvv_print_types(FILE *out);
/* Centroid tables: each shipped table against Lloyd-Max on the Beta and
 * Gaussian coordinate densities.  Returns the number of tables that match
 * no density (0 when all do). */
int kvv_print_tables(FILE *out);

#endif
