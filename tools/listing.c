/* Listings for the CLI: the type table and the centroid-table report. */
#include <stdio.h>
#include <string.h>

#include "backends/registry.h"
#include "kvv/types.h"
#include "ref/ref.h"
#include "tools/listing.h"

static const char *const family_names[] = {"float", "block", "turbo"};

void kvv_print_types(FILE *out)
{
    fprintf(out, "%-14s %-7s %-6s %5s %5s %6s %5s %4s  %-27s %-12s  %s\n", "type", "cache", "family", "block",
            "bytes", "bits/v", "index", "rot", "reference", "cpu kernels", "layout");
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        const kvv_type_info *ti = kvv_type_get((kvv_type)t);
        const kvv_ref_type *rt = kvv_ref_type_get((kvv_type)t);
        char ref[64], cpu[32];
        snprintf(ref, sizeof ref, "%s%s%s%s", rt && rt->quantize ? "quant" : "-", rt && rt->dequantize ? ",dequant" : "",
                 rt && rt->requantize ? ",requant" : "", rt && rt->block_cost ? ",cost" : "");
        const kvv_builtin *bi = kvv_builtin_find("cpu");
        if (!bi || !bi->type_kernels || !bi->type_kernels((kvv_type)t, cpu, sizeof cpu))
            snprintf(cpu, sizeof cpu, "?");
        fprintf(out, "%-14s %-7s %-6s %5d %5d %6.3f %5d %4s  %-27s %-12s  %s\n", ti->name, ti->cache,
                family_names[ti->family], ti->block, ti->bytes, ti->bpv, ti->index_bits, ti->rotated ? "yes" : "no", ref,
                cpu, ti->layout);
    }
}

static const char *density_name(kvv_ref_density d) { return d == KVV_DENSITY_BETA ? "Beta" : "Gaussian"; }

int kvv_print_tables(FILE *out)
{
    int n = 0, bad = 0;
    const kvv_ref_table *tabs = kvv_ref_tables(&n);
    int w = 5;
    for (int i = 0; i < n; i++)
        if ((int)strlen(tabs[i].name) > w)
            w = (int)strlen(tabs[i].name);
    fprintf(out, "%-*s %6s  %-9s %5s %12s %12s %11s %11s  %s\n", w, "table", "levels", "fits", "d", "max |dev|",
            "dev/spacing", "MSE*d", "optimal", "verdict");
    for (int i = 0; i < n; i++) {
        kvv_ref_table_match m;
        if (kvv_ref_table_match_find(&tabs[i], 16, 1024, &m)) {
            fprintf(out, "%-*s %6d  (no fit computed)\n", w, tabs[i].name, tabs[i].levels);
            bad++;
            continue;
        }
        fprintf(out, "%-*s %6d  %-9s %5d %12.6f %12.4f %11.5f %11.5f  %s\n", w, tabs[i].name, tabs[i].levels,
                density_name(m.density), m.d, m.max_abs_dev, m.max_rel_dev, m.mse_shipped, m.mse_optimal,
                m.matches ? "matches" : "MATCHES NO DENSITY");
        bad += !m.matches;
    }
    return bad;
}
