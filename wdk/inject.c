/* wdk/inject.c — Low Resources Simulation for the WDK layer, seeded and
 * deterministic: the routines a driver calls fail as they would when the
 * system runs short (pool allocation NULL, IoAllocateMdl NULL,
 * MmProbeAndLockPages raising STATUS_INSUFFICIENT_RESOURCES, a system-PTE
 * mapping NULL where the caller allowed failure, MmAllocatePagesForMdl
 * giving half the pages), by "fail the Nth call" or "one in N", for one
 * driver or one call site or all. A driver's cleanup paths are where MDL
 * bugs hide. */
#include "internal.h"

#include <string.h>

static struct {
    struct mmwdk_injection cfg;
    bool on;
    uint64_t calls;  /* eligible calls so far */
    uint64_t rng;
    uint64_t failed;
} inj;

void mmwdk_inject(const struct mmwdk_injection *cfg)
{
    memset(&inj, 0, sizeof inj);
    if (!cfg || !cfg->sites || (!cfg->fail_nth && !cfg->one_in))
        return;
    inj.cfg = *cfg;
    inj.on = true;
    inj.rng = cfg->seed;
}

uint64_t mmwdk_injected(void) { return inj.failed; }

static uint64_t next_random(void)
{
    uint64_t z = (inj.rng += UINT64_C(0x9E3779B97F4A7C15)); /* splitmix64 */
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

bool mmwdk_inject_failure(uint32_t site, const void *caller)
{
    if (!inj.on || !(inj.cfg.sites & site))
        return false;
    if (inj.cfg.call_site && inj.cfg.call_site != caller)
        return false;
    mm_machine *m = mmwdk_machine();
    if (inj.cfg.driver && (!m || mm_image_at(m, va_of(caller)) != inj.cfg.driver))
        return false;
    inj.calls++;
    bool fail = (inj.cfg.fail_nth && inj.calls == inj.cfg.fail_nth) ||
                (inj.cfg.one_in && next_random() % inj.cfg.one_in == 0);
    if (fail)
        inj.failed++;
    return fail;
}
