/* Kept for tests written before tests/harness.h: include that instead. */
#include "oracle/run.h"
#include "tests/harness.h"
