/* wdk/inject.c — Low Resources Simulation for the WDK layer, seeded and
 * deterministic: the routines a driver calls fail as they would when the
 * system runs short (pool allocation NULL, IoAllocateMdl NULL,
 * MmProbeAndLockPages raising STATUS_INSUFFICIENT_RESOURCES, a system-PTE
 * mapping NULL where the caller allowed failure, MmAllocatePagesForMdl
 * giving half the pages), by "fail the Nth call" or "one in N", for one
 * driver or one call site or all. A driver's cleanup paths are where MDL
 * bugs hide. */
#include "wdkstate.h"

#include <string.h>

/* Part of the machine's WDK state: a snapshot's restore brings the count
 * of calls back with everything else, so an input fails the same call. */
struct mmwdk_injection_state {
    struct mmwdk_injection cfg;
    bool on;
    uint64_t calls;  /* eligible calls so far */
    uint64_t rng;
    uint64_t failed;
};

static struct mmwdk_injection_state *injection(mm_machine *m, bool make)
{
    if (!m)
        return NULL;
    struct mmwdk_state *s = mmwdk_state(m);
    if (!s->injection && make)
        s->injection = mmwdk_alloc(m, sizeof *s->injection);
    return s->injection;
}

void mmwdk_inject(const struct mmwdk_injection *cfg)
{
    struct mmwdk_injection_state *inj = injection(mmwdk_machine(), true);
    if (!inj)
        return; /* no machine on this thread: nothing to fail */
    memset(inj, 0, sizeof *inj);
    if (!cfg || !cfg->sites || (!cfg->fail_nth && !cfg->one_in))
        return;
    inj->cfg = *cfg;
    inj->on = true;
    inj->rng = cfg->seed;
}

uint64_t mmwdk_injected(void)
{
    const struct mmwdk_injection_state *inj = injection(mmwdk_machine(), false);
    return inj ? inj->failed : 0;
}

static uint64_t next_random(struct mmwdk_injection_state *inj)
{
    uint64_t z = (inj->rng += UINT64_C(0x9E3779B97F4A7C15)); /* splitmix64 */
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

bool mmwdk_inject_failure(uint32_t site, const void *caller)
{
    mm_machine *m = mmwdk_machine();
    struct mmwdk_injection_state *inj = injection(m, false);
    if (!inj || !inj->on || !(inj->cfg.sites & site))
        return false;
    if (inj->cfg.call_site && inj->cfg.call_site != caller)
        return false;
    if (inj->cfg.driver && mm_image_at(m, va_of(caller)) != inj->cfg.driver)
        return false;
    inj->calls++;
    bool fail = (inj->cfg.fail_nth && inj->calls == inj->cfg.fail_nth) ||
                (inj->cfg.one_in && next_random(inj) % inj->cfg.one_in == 0);
    if (fail)
        inj->failed++;
    return fail;
}
