/* wdk/inject.c — what the environment does to a driver, seeded and
 * deterministic: the adversarial machine (another CPU trimming working
 * sets, a user thread changing the request's buffer, between the driver's
 * calls) and Low Resources Simulation: the routines a driver calls fail as they would when the
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

/* splitmix64, a stream per state. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
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
                (inj->cfg.one_in && next_random(&inj->rng) % inj->cfg.one_in == 0);
    if (fail)
        inj->failed++;
    return fail;
}

/* ---- the adversarial machine ---- */

struct mmwdk_adversary_state {
    struct mmwdk_adversary cfg;
    uint64_t rng, acts;
    bool acting; /* its own calls do not act again */
};

static uint64_t adversary_random(struct mmwdk_adversary_state *a) { return next_random(&a->rng); }

void mmwdk_adversary(const struct mmwdk_adversary *cfg)
{
    mm_machine *m = mmwdk_machine();
    if (!m)
        return;
    struct mmwdk_state *s = mmwdk_state(m);
    if (!cfg || !cfg->actions || !cfg->one_in) {
        mmwdk_free(m, s->adversary);
        s->adversary = NULL;
        return;
    }
    if (!s->adversary)
        s->adversary = mmwdk_alloc(m, sizeof *s->adversary);
    *s->adversary = (struct mmwdk_adversary_state){.cfg = *cfg, .rng = cfg->seed};
}

uint64_t mmwdk_adversary_acts(void)
{
    mm_machine *m = mmwdk_machine();
    const struct mmwdk_adversary_state *a = m ? mmwdk_state(m)->adversary : NULL;
    return a ? a->acts : 0;
}

/* Another CPU trims the working sets: the caller's unlocked pages, paged
 * pool and pageable code leave them (to the transition lists). One act in
 * four it also writes them out and repurposes standby pages, so what comes
 * back comes from the page file into another frame. */
static void trim(mm_machine *m, struct mmwdk_adversary_state *a, mm_process *p)
{
    uint64_t pages = 1 + adversary_random(a) % 16, done;
    if (p)
        mm_working_set_trim(m, p, pages, &done);
    mm_working_set_trim(m, NULL, pages, &done);
    if (adversary_random(a) % 4 == 0 && !mm_machine_is_dead(m)) {
        mm_modified_page_writer(m, &done);
        mm_purge_standby_list(m, 2 * pages, &done);
    }
}

/* A user thread of the requesting process acts in its address space. */
struct user_thread {
    struct mm_apc_state apc;
    bool attached;
};

static bool user_thread_enter(mm_machine *m, struct mmwdk_state *s, struct user_thread *t)
{
    t->attached = false;
    if (!s->current_process)
        return false;
    if (mm_process_current(m) == s->current_process)
        return true;
    t->attached = MM_SUCCESS(mm_process_attach(m, s->current_process, &t->apc));
    return t->attached;
}

static void user_thread_leave(mm_machine *m, struct user_thread *t)
{
    if (t->attached && !mm_machine_is_dead(m))
        mm_process_detach(m, &t->apc);
}

/* The user thread changes a byte of the request's input buffer. */
static void write_user(mm_machine *m, struct mmwdk_adversary_state *a, struct mmwdk_state *s)
{
    if (!s->current_in || !s->current_in_len)
        return;
    mm_va at = s->current_in + adversary_random(a) % s->current_in_len;
    uint8_t byte = 0;
    if (MM_SUCCESS(mm_read(m, at, &byte, 1))) {
        byte ^= (uint8_t)(adversary_random(a) | 1);
        mm_write(m, at, &byte, 1);
    }
}

/* The committed region of one of the request's buffers, picked at random;
 * false when it has none (or the user thread freed it already). */
static bool some_buffer(mm_machine *m, struct mmwdk_adversary_state *a, const struct mmwdk_state *s,
                        struct mm_region_info *r)
{
    bool out = adversary_random(a) & 1;
    mm_va va = out ? s->current_out : s->current_in;
    if (!va)
        va = out ? s->current_in : s->current_out;
    return va && MM_SUCCESS(mm_virtual_query(m, NULL, va, r)) && r->state == MM_MEM_COMMIT;
}

/* The user thread makes a buffer's pages read-only or no-access. */
static void protect_user(mm_machine *m, struct mmwdk_adversary_state *a, const struct mmwdk_state *s)
{
    struct mm_region_info r;
    if (!some_buffer(m, a, s, &r))
        return;
    mm_va base = r.base_address;
    uint64_t size = r.region_size;
    uint32_t old;
    mm_virtual_protect(m, NULL, &base, &size, adversary_random(a) & 1 ? MM_PAGE_READONLY : MM_PAGE_NOACCESS, &old);
}

/* The user thread frees the allocation a buffer is in. */
static void free_user(mm_machine *m, struct mmwdk_adversary_state *a, const struct mmwdk_state *s)
{
    struct mm_region_info r;
    if (!some_buffer(m, a, s, &r))
        return;
    mm_va base = r.allocation_base;
    uint64_t size = 0;
    mm_virtual_free(m, NULL, &base, &size, MM_MEM_RELEASE);
}

static void user_thread_acts(mm_machine *m, struct mmwdk_adversary_state *a, struct mmwdk_state *s)
{
    uint32_t actions = a->cfg.actions;
    struct user_thread t;
    if (!(actions & (MMWDK_ADVERSARY_WRITE_USER | MMWDK_ADVERSARY_PROTECT_USER | MMWDK_ADVERSARY_FREE_USER)) ||
        !user_thread_enter(m, s, &t))
        return;
    if (actions & MMWDK_ADVERSARY_WRITE_USER)
        write_user(m, a, s);
    if ((actions & MMWDK_ADVERSARY_PROTECT_USER) && adversary_random(a) % 4 == 0 && !mm_machine_is_dead(m))
        protect_user(m, a, s);
    if ((actions & MMWDK_ADVERSARY_FREE_USER) && adversary_random(a) % 4 == 0 && !mm_machine_is_dead(m))
        free_user(m, a, s);
    user_thread_leave(m, &t);
}

void mmwdk_adversary_step(mm_machine *m)
{
    struct mmwdk_state *s = mm_machine_extension(m);
    struct mmwdk_adversary_state *a = s ? s->adversary : NULL;
    if (!a || a->acting || mm_machine_is_dead(m) || adversary_random(a) % a->cfg.one_in)
        return;
    /* The other CPU (at PASSIVE_LEVEL, whatever the driver's is); with one
     * CPU only while the driver's allows paging. */
    uint32_t cpu = mm_cpu_current(m), other = mm_cpu_count(m) > 1 ? (cpu + 1) % mm_cpu_count(m) : cpu;
    mm_process *victim = mm_process_current(m) == mm_process_system(m) ? s->current_process : mm_process_current(m);
    if (other == cpu && mm_irql_current(m) >= MM_DISPATCH_LEVEL)
        return;
    a->acting = true;
    a->acts++;
    mm_cpu_set_current(m, other);
    if (a->cfg.actions & MMWDK_ADVERSARY_TRIM)
        trim(m, a, victim);
    if (!mm_machine_is_dead(m))
        user_thread_acts(m, a, s);
    if (!mm_machine_is_dead(m))
        mm_cpu_set_current(m, cpu);
    a->acting = false;
}
