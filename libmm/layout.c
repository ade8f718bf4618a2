/* libmm/layout.c — where user space, system space and the system regions
 * lie (see layout.h). Both layouts have the same regions in the same order:
 * driver images, system PTEs, paged pool, the PFN database's VA, nonpaged
 * pool. */
#include "layout.h"

#define POOL_VA_PAGES_MAX (UINT64_C(1) << 20)
#define GUARD UINT64_C(0x10000) /* the no-access 64 KiB at each end of user space */

static uint64_t align_up(uint64_t v, uint64_t to) { return (v + to - 1) & ~(to - 1); }

uint64_t mmi_pool_va_pages(const struct mm_config *cfg)
{
    uint64_t want = cfg->physical_pages * 2;
    if (want < 4096)
        want = 4096;
    return want < POOL_VA_PAGES_MAX ? want : POOL_VA_PAGES_MAX;
}

static uint64_t pfn_database_bytes(const struct mm_config *cfg) { return cfg->physical_pages * 0x30; }

void mmi_layout_windows(const struct mm_config *cfg, struct mm_layout *l)
{
    *l = (struct mm_layout){
        .kind = MM_LAYOUT_WINDOWS,
        .lowest_user_address = MM_LOWEST_USER_ADDRESS,
        .highest_user_address = MM_HIGHEST_USER_ADDRESS,
        .user_probe_address = MM_USER_PROBE_ADDRESS,
        .highest_vad_address = MM_HIGHEST_VAD_ADDRESS,
        .system_range_start = MM_SYSTEM_RANGE_START,
        .driver_images = MM_DRIVER_IMAGE_START,
        .system_ptes = MM_SYSTEM_PTE_START,
        .paged_pool = MM_PAGED_POOL_START,
        .pfn_database = MM_PFN_DATABASE,
    };
    l->nonpaged_pool = MM_PFN_DATABASE + align_up(pfn_database_bytes(cfg), UINT64_C(0x200000));
    l->system_end = l->nonpaged_pool + mmi_pool_va_pages(cfg) * MM_PAGE_SIZE;
}

/* The hosted system regions, each on a MMI_HOSTED_ALIGN boundary. */
static mm_va place(mm_va *next, uint64_t bytes)
{
    mm_va at = *next;
    *next = align_up(at + bytes, MMI_HOSTED_ALIGN);
    return at;
}

static mm_va hosted_regions(const struct mm_config *cfg, mm_va system, struct mm_layout *l)
{
    mm_va next = system;
    mm_va images = place(&next, MMI_IMAGE_VA_PAGES * MM_PAGE_SIZE);
    mm_va ptes = place(&next, (uint64_t)cfg->system_ptes * MM_PAGE_SIZE);
    mm_va paged = place(&next, mmi_pool_va_pages(cfg) * MM_PAGE_SIZE);
    mm_va pfns = place(&next, pfn_database_bytes(cfg));
    mm_va nonpaged = place(&next, mmi_pool_va_pages(cfg) * MM_PAGE_SIZE);
    if (l)
        *l = (struct mm_layout){.driver_images = images, .system_ptes = ptes, .paged_pool = paged,
                                .pfn_database = pfns, .nonpaged_pool = nonpaged, .system_end = next};
    return next;
}

uint64_t mmi_layout_hosted_bytes(const struct mm_config *cfg)
{
    return hosted_regions(cfg, MMI_HOSTED_USER_BYTES, NULL);
}

void mmi_layout_hosted(const struct mm_config *cfg, mm_va base, struct mm_layout *l)
{
    mm_va system = base + MMI_HOSTED_USER_BYTES;
    hosted_regions(cfg, system, l);
    l->kind = MM_LAYOUT_HOSTED;
    l->lowest_user_address = base + GUARD;
    l->user_probe_address = system - GUARD;
    l->highest_user_address = system - GUARD - 1;
    l->highest_vad_address = l->highest_user_address - GUARD;
    l->system_range_start = system;
}
