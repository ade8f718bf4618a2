/* tests/wdk_harness.h — what the WDK layer's suites share: DbgPrint's
 * lines collected in debug_text, and a hosted machine the WDK routines act
 * on (debug output captured), undone by teardown_wdk_machine. */
#ifndef MMSIM_TEST_WDK_HARNESS_H
#define MMSIM_TEST_WDK_HARNESS_H

#include "harness.h"
#include "mmsim/wdk.h"

static char debug_text[8192];

static void capture(void *ctx, const char *line)
{
    (void)ctx;
    size_t used = strlen(debug_text);
    snprintf(debug_text + used, sizeof debug_text - used, "%s", line);
}

static inline int setup_wdk_machine(void **state)
{
    debug_text[0] = 0;
    setup_hosted_machine(state);
    if (*state) {
        mmwdk_use(H.m);
        mmwdk_set_debug_output(capture, NULL);
    }
    return 0;
}

static inline void teardown_wdk_machine(void **state)
{
    if (*state) {
        mmwdk_use(NULL);
        teardown_machine(state);
    }
    mmwdk_set_debug_output(NULL, NULL);
}

#endif
