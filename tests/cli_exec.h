/* Kept for tests written before tests/harness.h: include that instead. */
#include "tests/harness.h"
