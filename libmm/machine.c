/* libmm/machine.c — creating and destroying a machine, the verifier
 * switch, and the deterministic RNG. */
#include "machine.h"

#include <string.h>

#include "alloc.h"
#include "arena.h"
#include "bugcheck.h"
#include "image.h"
#include "irp.h"
#include "host/hostmmu.h"
#include "kstack.h"
#include "layout.h"
#include "mdl.h"
#include "syspte.h"
#include "physical.h"
#include "pool.h"
#include "process.h"
#include "section.h"
#include "pte.h"

void mm_config_default(struct mm_config *cfg)
{
    if (!cfg)
        return;
    *cfg = (struct mm_config){
        .physical_pages = 16384, /* 64 MiB */
        .cpu_count = 2,
        .seed = 1,
        .system_ptes = 2048,
        .pagefile_pages = 16384,
        .trace_capacity = 4096,
    };
}

static bool config_valid(const struct mm_config *c)
{
    bool pow2 = (c->trace_capacity & (c->trace_capacity - 1)) == 0;
    return c->physical_pages >= 256 && c->physical_pages <= (UINT64_C(1) << 28) && c->cpu_count >= 1 &&
           c->cpu_count <= MMI_MAX_CPUS && pow2 && (c->trace_capacity == 0 || c->trace_capacity >= 16) &&
           c->trace_capacity <= (1u << 24) && c->system_ptes >= 16 && c->system_ptes <= (1u << 24) &&
           c->pagefile_pages < (UINT64_C(1) << 31) && (c->layout == MM_LAYOUT_WINDOWS || c->layout == MM_LAYOUT_HOSTED);
}

uint64_t mmi_splitmix(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

uint64_t mmi_random(mm_machine *m) { return mmi_splitmix(&m->rng); }

/* The image VA bitmap starts with room for 16 MiB of images and doubles
 * as they need (up to MMI_IMAGE_VA_PAGES): a small machine's bookkeeping,
 * which a snapshot copies back at each restore, stays small. */
#define IMAGE_VA_FIRST 4096u

static mm_status boot(mm_machine *m)
{
    mm_status st = mmi_trace_init(m, m->cfg.trace_capacity);
    if (!MM_SUCCESS(st))
        return st;
    if (!mmi_pfn_init(m, m->cfg.physical_pages) || !mmi_store_init(m, &m->store, m->cfg.physical_pages) ||
        !mmi_pagefile_init(m, m->cfg.pagefile_pages) || !mmi_bitmap_init_growable(m, &m->image_va, IMAGE_VA_FIRST, MMI_IMAGE_VA_PAGES) ||
        !mmi_syspte_init(m) || !mmi_mdl_init(m) || !mmi_physical_init(m))
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    m->commit_limit = m->cfg.physical_pages + m->cfg.pagefile_pages;
    m->system_ws = mmi_alloc(m, sizeof *m->system_ws);
    if (!m->system_ws)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    m->system_ws->owner = MM_SYSTEM_PROCESS_ID;
    st = mmi_process_create_system(m);
    if (!MM_SUCCESS(st))
        return st;
    st = mmi_pool_init(m);
    if (!MM_SUCCESS(st))
        return st;
    return mmi_process_alloc_eprocess(m, m->system);
}

mm_status mm_machine_create(const struct mm_config *cfg, mm_machine **out)
{
    if (!cfg || !out)
        return MM_STATUS_INVALID_PARAMETER;
    *out = NULL;
    if (!config_valid(cfg))
        return MM_STATUS_INVALID_PARAMETER;
    struct mm_allocator a;
    struct mmi_arena *arena = NULL;
    if (cfg->snapshots) { /* the arena is the allocator */
        if (cfg->allocator.alloc || cfg->allocator.realloc || cfg->allocator.free)
            return MM_STATUS_INVALID_PARAMETER;
        if (!(arena = mmi_arena_create(cfg, &a)))
            return MM_STATUS_INSUFFICIENT_RESOURCES;
    } else {
        mmi_allocator_resolve(&a, &cfg->allocator);
    }
    mm_machine *m = mmi_alloc_with(&a, sizeof *m);
    if (!m) {
        mmi_arena_destroy(arena);
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    }
    m->arena = arena;
    m->cfg = *cfg;
    mmi_layout_windows(cfg, &m->layout);
    if (cfg->layout == MM_LAYOUT_HOSTED) {
        mm_va base;
        mm_status reserved = mmi_host_reserve(cfg, &base);
        if (!MM_SUCCESS(reserved)) {
            mmi_free_with(&a, m);
            mmi_arena_destroy(arena);
            return reserved;
        }
        mmi_layout_hosted(cfg, base, &m->layout);
    }
    m->alloc = a;
    m->rng = cfg->seed;
    m->cpu_count = cfg->cpu_count;
    m->store.fd = -1;
    m->tlb.generation = 1; /* the zeroed entries (generation 0) are not live */
    mmi_op_begin(m, "mm_machine_create");
    mm_status st = boot(m);
    if (!MM_SUCCESS(st)) {
        mm_machine_destroy(m);
        return st;
    }
    for (uint32_t i = 0; i < m->cpu_count; i++)
        m->cpu[i].process = m->system;
    if (m->layout.kind == MM_LAYOUT_HOSTED && !MM_SUCCESS(st = mmi_host_attach(m))) {
        mm_machine_destroy(m);
        return st;
    }
    *out = m;
    return MM_STATUS_SUCCESS;
}

void mm_machine_destroy(mm_machine *m)
{
    if (!m)
        return;
    if (m->release_extension)
        m->release_extension(m, m->extension);
    mmi_host_detach(m); /* first: nothing below may touch the host view */
    mmi_physical_fini(m);
    mmi_kstack_fini(m);
    mmi_irp_fini(m);
    mmi_pool_fini(m);
    mmi_process_free_all(m);
    mmi_image_free_all(m);
    mmi_section_free_all(m);
    if (m->system_ws) {
        mmi_ws_fini(m, m->system_ws);
        mmi_free(m, m->system_ws);
    }
    mmi_bitmap_fini(m, &m->image_va);
    mmi_mdl_fini(m);
    mmi_syspte_fini(m);
    mmi_pagefile_fini(m);
    mmi_store_fini(m, &m->store);
    mmi_pfn_fini(m);
    mmi_trace_fini(m);
    struct mm_allocator a = m->alloc;
    struct mmi_arena *arena = m->arena;
    mmi_free_with(&a, m);
    mmi_arena_destroy(arena);
}

void *mm_machine_alloc(mm_machine *m, size_t size) { return m ? mmi_alloc(m, size) : NULL; }

void mm_machine_free(mm_machine *m, void *p)
{
    if (m)
        mmi_free(m, p);
}

mm_status mm_machine_set_extension(mm_machine *m, void *extension, void (*release)(mm_machine *m, void *extension))
{
    if (!m)
        return MM_STATUS_INVALID_PARAMETER;
    m->extension = extension;
    m->release_extension = release;
    return MM_STATUS_SUCCESS;
}

void *mm_machine_extension(const mm_machine *m) { return m ? m->extension : NULL; }

bool mm_machine_is_dead(const mm_machine *m) { return !m || m->dead; }

const struct mm_bugcheck *mm_machine_bugcheck(const mm_machine *m)
{
    return m && m->dead ? &m->bugcheck : NULL;
}

mm_status mm_machine_layout(const mm_machine *m, struct mm_layout *out)
{
    if (!m || !out)
        return MM_STATUS_INVALID_PARAMETER;
    *out = m->layout;
    return MM_STATUS_SUCCESS;
}

uint64_t mm_machine_host_bytes(const mm_machine *m) { return m ? m->host_bytes : 0; }
uint64_t mm_machine_stored_pages(const mm_machine *m) { return m ? m->store.stored : 0; }

mm_status mm_machine_set_verifier(mm_machine *m, uint32_t flags)
{
    MMI_ENTER(m, "mm_machine_set_verifier");
    m->cfg.verifier_flags = flags;
    return MM_STATUS_SUCCESS;
}

mm_va mm_cpu_set_caller(mm_machine *m, mm_va caller)
{
    if (!m)
        return 0;
    mm_va previous = mmi_cpu(m)->caller;
    mmi_cpu(m)->caller = caller;
    return previous;
}

uint64_t mm_machine_step(const mm_machine *m) { return m ? m->step : 0; }

uint32_t mm_machine_verifier(const mm_machine *m) { return m ? m->cfg.verifier_flags : 0; }

mm_status mm_machine_set_exception_handler(mm_machine *m, mm_exception_fn fn, void *ctx)
{
    if (!m)
        return MM_STATUS_INVALID_PARAMETER;
    m->exception_fn = fn;
    m->exception_ctx = ctx;
    return MM_STATUS_SUCCESS;
}

void mm_machine_enter(mm_machine *m)
{
    if (m && m->tlb.host)
        m->tlb.host->enter(m->tlb.host_ctx);
}
