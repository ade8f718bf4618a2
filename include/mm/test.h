/** \file
 * mm/test.h — catching simulated bug checks in tests, from CMocka or plain C.
 *
 * A machine made with mm_test_machine_create() delivers its bug checks to a
 * catcher: inside MM_TRY_BUGCHECK the failing call unwinds back to the test
 * (setjmp/longjmp), outside it the bug check is recorded and the call returns
 * MM_STATUS_MACHINE_DEAD (or 0). Either way the machine is dead afterwards.
 *
 *     struct mm_catcher c;
 *     mm_machine *m = mm_test_machine_create(&c, NULL);
 *     ...
 *     MM_EXPECT_BUGCHECK(&c, mm_unlock_pages(m, mdl), 0x4E, 0x07);
 *     assert_true(c.ok);                     // CMocka; or: if (!c.ok) puts(c.message)
 *     mm_machine_destroy(m);
 */
#ifndef MM_TEST_H
#define MM_TEST_H

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "mm/mm.h"

#ifdef __cplusplus
extern "C" {
#endif

/** \addtogroup test
 *  \{ */

struct mm_catcher {
    jmp_buf jump;
    volatile int armed;       /**< inside MM_TRY_BUGCHECK */
    int raised;               /**< a bug check was delivered */
    int ok;                   /**< MM_EXPECT_BUGCHECK: it was the one expected */
    struct mm_bugcheck bugcheck;
    char message[512];        /**< why MM_EXPECT_BUGCHECK failed, or the report */
};

/** The hook: records the bug check and unwinds to MM_TRY_BUGCHECK if armed. */
static inline void mm_test_hook(void *ctx, mm_machine *m, const struct mm_bugcheck *bc)
{
    struct mm_catcher *c = (struct mm_catcher *)ctx;
    (void)m;
    c->bugcheck = *bc;
    c->raised = 1;
    if (c->armed) {
        c->armed = 0;
        longjmp(c->jump, 1);
    }
}

/** A machine whose bug checks go to c (cfg NULL: mm_config_default). */
static inline mm_machine *mm_test_machine_create(struct mm_catcher *c, const struct mm_config *cfg)
{
    struct mm_config local;
    if (cfg)
        local = *cfg;
    else
        mm_config_default(&local);
    memset(c, 0, sizeof *c);
    local.bugcheck_hook = mm_test_hook;
    local.bugcheck_ctx = c;
    mm_machine *m = NULL;
    return mm_machine_create(&local, &m) == MM_STATUS_SUCCESS ? m : NULL;
}

/** Runs expr; c->raised says whether it raised a bug check (c->bugcheck). */
#define MM_TRY_BUGCHECK(c, expr)               \
    do {                                       \
        (c)->raised = 0;                       \
        (c)->armed = 1;                        \
        if (setjmp((c)->jump) == 0)            \
            (void)(expr);                      \
        (c)->armed = 0;                        \
    } while (0)

/** Runs expr, which must raise bug check `code` with P1 = `p1`: c->ok, and
 * c->message saying what happened instead. */
#define MM_EXPECT_BUGCHECK(c, expr, code, p1)                                 \
    do {                                                                      \
        MM_TRY_BUGCHECK((c), expr);                                           \
        mm_test_judge((c), #expr, (uint32_t)(code), (uint64_t)(p1));          \
    } while (0)

/** Sets c->ok and c->message for MM_EXPECT_BUGCHECK (used by the macro). */
static inline void mm_test_judge(struct mm_catcher *c, const char *what, uint32_t code, uint64_t p1)
{
    const struct mm_bugcheck *bc = &c->bugcheck;
    c->ok = c->raised && bc->code == code && bc->p[0] == p1;
    if (!c->raised)
        snprintf(c->message, sizeof c->message, "%s: expected bug check 0x%X (P1 0x%llx), but it returned", what,
                 code, (unsigned long long)p1);
    else if (!c->ok)
        snprintf(c->message, sizeof c->message,
                 "%s: expected bug check 0x%X (P1 0x%llx), got 0x%X (0x%llx, 0x%llx, 0x%llx, 0x%llx): %s", what, code,
                 (unsigned long long)p1, bc->code, (unsigned long long)bc->p[0], (unsigned long long)bc->p[1],
                 (unsigned long long)bc->p[2], (unsigned long long)bc->p[3], bc->explanation);
    else
        snprintf(c->message, sizeof c->message, "%s", bc->explanation);
}

/** \} */

#ifdef __cplusplus
}
#endif
#endif
