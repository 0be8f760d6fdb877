/* Names of rules and statuses, as reports print them. */
#include "kvv/verdict.h"

static const char *const rule_names[KVV_RULE_COUNT] = {"-",     "bytes",  "dequant", "toggle", "arith",
                                                       "budget", "finite", "crash",   "ppl",
                                                       "format", "roundtrip", "declined"};
static const char *const status_names[KVV_STATUS_COUNT] = {"pass", "FAIL", "skip"};

const char *kvv_rule_name(kvv_rule r) { return (unsigned)r < KVV_RULE_COUNT ? rule_names[r] : "?"; }
const char *kvv_status_name(kvv_status s) { return (unsigned)s < KVV_STATUS_COUNT ? status_names[s] : "?"; }
