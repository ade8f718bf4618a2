/* libmm/fault.c — accesses by the current CPU in its current process
 * context. A valid PTE with the right permissions is a plain access; anything
 * else is a page fault resolved as MmAccessFault would: demand zero, soft
 * fault (transition), hard fault (page file), copy on write, guard page — or
 * the outcome Windows gives: an access violation for user addresses, and
 * 0x50 / 0xBE / 0xCE / 0xD1 / 0x0A for the rest. */
#include "fault.h"

#include <stdio.h>
#include <string.h>

#include "bugcheck.h"
#include "image.h"
#include "kstack.h"
#include "layout.h"
#include "machine.h"
#include "memory.h"
#include "pagefile.h"
#include "pfn.h"
#include "pool.h"
#include "process.h"
#include "pte.h"
#include "tlb.h"
#include "trace.h"
#include "vad.h"

enum fault_kind { FAULT_DEMAND_ZERO = 1, FAULT_TRANSITION, FAULT_PAGEFILE, FAULT_COPY_ON_WRITE, FAULT_GUARD };

struct access {
    mm_va va;
    mm_access kind;
    mm_mode mode;
    mm_va ip;
    struct mm_process *process;
};

mm_page_use mmi_use_for_va(const mm_machine *m, mm_va va)
{
    if (mmi_is_user_va(m, va))
        return MM_USE_PRIVATE;
    int pool = mmi_pool_region(m, va);
    if (pool == MM_NONPAGED_POOL)
        return MM_USE_NONPAGED_POOL;
    if (pool == MM_PAGED_POOL)
        return MM_USE_PAGED_POOL;
    if (va >= m->layout.driver_images && va < m->layout.driver_images + MMI_IMAGE_VA_PAGES * MM_PAGE_SIZE)
        return MM_USE_IMAGE;
    /* A shared object the host's loader placed lies beyond the layout's
     * regions; nothing else there is the model's. */
    if (va >= m->layout.system_end && m->image_first && mmi_image_containing(m, va))
        return MM_USE_IMAGE;
    return MM_USE_SYSTEM;
}

/* P2 of 0x50 from Windows 10 1507 on: the x64 page-fault error code, so 0
 * read, 0x2 write (bit 1), 0x10 instruction fetch (bit 4). */
uint64_t mmi_fault_access_code(mm_access kind)
{
    return kind == MM_ACCESS_WRITE ? 0x2 : kind == MM_ACCESS_EXECUTE ? 0x10 : 0;
}

/* P3 of 0xD1 / 0x0A: 0 read, 1 write, 8 execute. */
static uint64_t irql_access_code(mm_access kind)
{
    return kind == MM_ACCESS_WRITE ? 1 : kind == MM_ACCESS_EXECUTE ? 8 : 0;
}

static const char *kind_name(mm_access kind)
{
    return kind == MM_ACCESS_WRITE ? "write" : kind == MM_ACCESS_EXECUTE ? "execute" : "read";
}

static mm_status access_violation(mm_machine *m, const struct access *a)
{
    mmi_trace(m, MM_EV_FAULT, a->va, MM_PFN_NONE, 0, (uint64_t)(uint32_t)MM_STATUS_ACCESS_VIOLATION);
    return MM_STATUS_ACCESS_VIOLATION;
}

static mm_status fault_at_raised_irql(mm_machine *m, const struct access *a, uint64_t pte)
{
    mm_irql irql = mmi_irql(m);
    struct mm_image *img = a->ip ? mmi_image_containing(m, a->ip) : NULL;
    uint32_t code = img ? MM_BUGCHECK_DRIVER_IRQL_NOT_LESS_OR_EQUAL : MM_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL;
    mm_pfn pfn = mmi_pte_is_transition(pte) ? mmi_pte_pfn(pte) : MM_PFN_NONE;
    return mmi_bugcheck(m, code, a->va, irql, irql_access_code(a->kind), a->ip, pfn, a->va,
                        "%s of %016llx at IRQL %u%s%s: the page is not resident (PTE %016llx), and page faults "
                        "cannot be taken at DISPATCH_LEVEL or above",
                        kind_name(a->kind), (unsigned long long)a->va, irql, img ? " by driver " : "",
                        img ? img->name : "", (unsigned long long)pte);
}

static mm_status bad_system_reference(mm_machine *m, const struct access *a, uint64_t type, const char *why)
{
    struct mm_image *img = mmi_image_containing(m, a->va);
    if (img && img->unloaded)
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, a->va,
                            a->kind == MM_ACCESS_WRITE, a->ip, 0, MM_PFN_NONE, a->va,
                            "%s of %016llx inside driver %s, which has been unloaded", kind_name(a->kind),
                            (unsigned long long)a->va, img->name);
    bool freed = mmi_pool_freed_special(m, a->va);
    if (freed || mmi_pool_special_guard(m, a->va)) { /* Special Pool's inaccessible pages */
        struct mm_image *by = a->ip ? mmi_image_containing(m, a->ip) : NULL;
        uint32_t code = freed ? (by ? MM_BUGCHECK_DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL
                                    : MM_BUGCHECK_PAGE_FAULT_IN_FREED_SPECIAL_POOL)
                              : (by ? MM_BUGCHECK_DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION
                                    : MM_BUGCHECK_PAGE_FAULT_BEYOND_END_OF_ALLOCATION);
        return mmi_bugcheck(m, code, a->va, a->kind == MM_ACCESS_WRITE, a->ip, 0, MM_PFN_NONE, a->va,
                            "%s of %016llx%s%s: %s", kind_name(a->kind), (unsigned long long)a->va,
                            by ? " by driver " : "", by ? by->name : "",
                            freed ? "the Special Pool block there was freed"
                                  : "past the end of the Special Pool block before it");
    }
    char where[96];
    mmi_image_describe(m, a->va, where, sizeof where);
    return mmi_bugcheck(m, MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, a->va, mmi_fault_access_code(a->kind), a->ip, type,
                        MM_PFN_NONE, a->va, "%s of %016llx%s: %s", kind_name(a->kind), (unsigned long long)a->va,
                        where, why);
}

static bool protection_allows(unsigned protection, mm_access kind)
{
    if (!mmi_protection_accessible(protection))
        return false;
    if (kind == MM_ACCESS_WRITE)
        return mmi_protection_writable(protection);
    if (kind == MM_ACCESS_EXECUTE)
        return mmi_protection_executable(protection);
    return true;
}

static void add_to_working_set(mm_machine *m, const struct access *a, mm_pfn pfn)
{
    mm_page_use use = mmi_use_for_va(m, a->va);
    if (use == MM_USE_PRIVATE || use == MM_USE_PAGED_POOL || use == MM_USE_IMAGE)
        mmi_ws_insert(m, mmi_ws_for(m, a->process, a->va), MM_PAGE_ALIGN(a->va), pfn);
}

static mm_status demand_zero(mm_machine *m, const struct access *a, unsigned protection)
{
    mm_va page = MM_PAGE_ALIGN(a->va);
    mm_pfn pfn;
    mm_status st = mmi_map_new_page(m, a->process, page, protection, mmi_use_for_va(m, a->va), true, NULL, &pfn);
    if (!MM_SUCCESS(st))
        return st;
    add_to_working_set(m, a, pfn);
    mmi_trace(m, MM_EV_FAULT, a->va, pfn, FAULT_DEMAND_ZERO, 0);
    return MM_STATUS_SUCCESS;
}

/* The last step of every resolved fault: the PTE becomes valid for the
 * frame, which joins the working set. */
static mm_status map_resolved(mm_machine *m, const struct access *a, mm_pfn table, mm_pfn pfn, unsigned protection,
                              enum fault_kind kind)
{
    mm_va page = MM_PAGE_ALIGN(a->va);
    mmi_pte_set(m, table, mmi_va_index(page, 3), page, mmi_pte_make_valid(pfn, protection, mmi_is_user_va(m, page)));
    add_to_working_set(m, a, pfn);
    mmi_trace(m, MM_EV_FAULT, a->va, pfn, kind, 0);
    return MM_STATUS_SUCCESS;
}

static mm_status soft_fault(mm_machine *m, const struct access *a, const struct mmi_walk *w)
{
    uint64_t pte = w->entry[3];
    mmi_pfn_reactivate(m, mmi_pte_pfn(pte));
    return map_resolved(m, a, w->table[3], mmi_pte_pfn(pte), mmi_pte_protection(pte), FAULT_TRANSITION);
}

static mm_status hard_fault(mm_machine *m, const struct access *a, const struct mmi_walk *w)
{
    uint64_t pte = w->entry[3];
    mm_pfn pfn;
    mm_status st = mmi_pfn_take(m, false, &pfn);
    if (!MM_SUCCESS(st))
        return st;
    mmi_pagefile_read(m, mmi_pte_pagefile_slot(pte), pfn);
    mm_va page = MM_PAGE_ALIGN(a->va);
    mmi_pfn_init_active(m, pfn, mmi_pte_address(page, 3), w->table[3], pte, mmi_owner_id(m, a->process, page),
                        mmi_use_for_va(m, page));
    return map_resolved(m, a, w->table[3], pfn, mmi_pte_protection(pte), FAULT_PAGEFILE);
}

/* A write to a copy-on-write page: the process gets its own copy. */
static mm_status copy_on_write(mm_machine *m, const struct access *a, const struct mmi_walk *w)
{
    uint64_t pte = w->entry[3];
    mm_pfn old = mmi_pte_pfn(pte);
    /* The PTE says it all: copy on write, executable or not. */
    unsigned writable = (pte & PTE_NO_EXECUTE) ? MMP_READWRITE : MMP_EXECUTE_READWRITE;
    mm_pfn pfn;
    mm_status st = mmi_pfn_take(m, false, &pfn);
    if (!MM_SUCCESS(st))
        return st;
    mmi_frame_copy(m, pfn, old);
    mm_va page = MM_PAGE_ALIGN(a->va);
    struct mmi_pfn *oe = mmi_pfn(m, old);
    if (oe->flink)
        mmi_ws_remove(m, mmi_ws_of_owner(m, oe->owner), old);
    mmi_pfn_init_active(m, pfn, mmi_pte_address(page, 3), w->table[3], mmi_pte_make_demand_zero(writable),
                        mmi_owner_id(m, a->process, page), mmi_use_for_va(m, page));
    map_resolved(m, a, w->table[3], pfn, writable, FAULT_COPY_ON_WRITE);
    return mmi_pfn_share_dec(m, old);
}

static mm_status clear_guard(mm_machine *m, const struct access *a, const struct mmi_walk *w)
{
    uint64_t pte = w->entry[3];
    unsigned protection = mmi_pte_protection(pte) & ~0x18u;
    uint64_t next = (pte & ~(UINT64_C(0x1F) << 5)) | ((uint64_t)protection << 5);
    if (mmi_pte_is_transition(pte)) {
        struct mmi_pfn *e = mmi_pfn(m, mmi_pte_pfn(pte));
        e->original_pte = (e->original_pte & ~(UINT64_C(0x1F) << 5)) | ((uint64_t)protection << 5);
    }
    mmi_pte_set(m, w->table[3], mmi_va_index(a->va, 3), MM_PAGE_ALIGN(a->va), next);
    mmi_trace(m, MM_EV_FAULT, a->va, MM_PFN_NONE, FAULT_GUARD, (uint64_t)(uint32_t)MM_STATUS_GUARD_PAGE_VIOLATION);
    return MM_STATUS_GUARD_PAGE_VIOLATION;
}

/* Nothing in the page tables: for a user address the VAD decides. */
static mm_status fault_unmapped(mm_machine *m, const struct access *a, const struct mmi_walk *w)
{
    if (mmi_is_user_va(m, a->va)) {
        struct mmi_vad *vad = a->process ? mmi_vad_find(&a->process->vads, a->va) : NULL;
        if (!vad || !vad->committed_all || !protection_allows(vad->protection & 0x7, a->kind) ||
            vad->protection == MMP_NOACCESS)
            return access_violation(m, a);
        if ((vad->protection & 0x18) == MMP_GUARDPAGE) {
            mm_pfn table;
            mm_status st = mmi_pt_ensure(m, a->process->pml4, a->va, a->process->id, &table);
            if (!MM_SUCCESS(st))
                return st;
            mmi_pte_set(m, table, mmi_va_index(a->va, 3), MM_PAGE_ALIGN(a->va),
                        mmi_pte_make_demand_zero(vad->protection & ~0x18u));
            return MM_STATUS_GUARD_PAGE_VIOLATION;
        }
        return demand_zero(m, a, vad->protection);
    }
    if (w->depth < 4)
        return bad_system_reference(m, a, 2, "no page table maps this system address");
    return bad_system_reference(m, a, 0, "the PTE is zero: the address was never allocated or has been freed");
}

static mm_status fault_software(mm_machine *m, const struct access *a, const struct mmi_walk *w)
{
    uint64_t pte = w->entry[3];
    unsigned protection = mmi_pte_protection(pte);
    bool user_va = mmi_is_user_va(m, a->va);
    if (protection == MMP_NOACCESS || (protection & 7) == 0) {
        if (user_va)
            return access_violation(m, a);
        return bad_system_reference(m, a, protection == MMP_NOACCESS ? 1 : 0,
                                    protection == MMP_NOACCESS ? "the page is no-access"
                                                               : "the page was freed (decommitted PTE)");
    }
    if ((protection & 0x18) == MMP_GUARDPAGE)
        return clear_guard(m, a, w);
    if (!protection_allows(protection, a->kind)) {
        if (user_va)
            return access_violation(m, a);
        if (a->kind == MM_ACCESS_WRITE)
            return mmi_bugcheck(m, MM_BUGCHECK_ATTEMPTED_WRITE_TO_READONLY_MEMORY, a->va, pte, 0, 0, MM_PFN_NONE,
                                a->va, "write to read-only system address %016llx", (unsigned long long)a->va);
        return bad_system_reference(m, a, 1, "the page does not allow this access");
    }
    if (mmi_pte_is_transition(pte))
        return soft_fault(m, a, w);
    if (mmi_pte_is_pagefile(pte))
        return hard_fault(m, a, w);
    if (mmi_pte_is_demand_zero(pte))
        return demand_zero(m, a, protection);
    return mmi_bugcheck(m, MM_BUGCHECK_MEMORY_MANAGEMENT, 0x41792, mmi_pte_address(a->va, 3), pte & 0xFFFFFFFF,
                        pte >> 32, MM_PFN_NONE, a->va, "PTE %016llx for %016llx has no format the model knows",
                        (unsigned long long)pte, (unsigned long long)a->va);
}

static mm_status page_fault(mm_machine *m, const struct access *a, const struct mmi_walk *w)
{
    uint64_t pte = w->depth == 4 ? w->entry[3] : 0;
    mm_va stack;
    if (!mmi_is_user_va(m, a->va) && mmi_kstack_guard(m, a->va, &stack)) /* no stack left for the trap itself */
        return mmi_bugcheck(m, MM_BUGCHECK_UNEXPECTED_KERNEL_MODE_TRAP, 8, 0, 0, 0, MM_PFN_NONE, a->va,
                            "%s of %016llx, the guard page below the kernel stack at %016llx: the stack overflowed "
                            "(a double fault)", kind_name(a->kind), (unsigned long long)a->va,
                            (unsigned long long)stack);
    if (mmi_irql(m) >= MM_DISPATCH_LEVEL)
        return fault_at_raised_irql(m, a, pte);
    if (w->depth < 4 || pte == 0)
        return fault_unmapped(m, a, w);
    if (pte & PTE_PROTOTYPE)
        return mmi_bugcheck(m, MM_BUGCHECK_MEMORY_MANAGEMENT, 0x41792, mmi_pte_address(a->va, 3),
                            pte & 0xFFFFFFFF, pte >> 32, MM_PFN_NONE, a->va,
                            "prototype PTE %016llx: the model maps views whole, so no process PTE refers to a prototype", (unsigned long long)pte);
    return fault_software(m, a, w);
}

/* Permission checks on a valid PTE; MM_STATUS_SUCCESS means the access may
 * proceed, MM_STATUS_PENDING-like `retry` means a fault changed the PTE. */
static mm_status check_valid(mm_machine *m, const struct access *a, const struct mmi_walk *w, bool *retry)
{
    uint64_t pte = w->entry[3];
    bool user_va = mmi_is_user_va(m, a->va);
    *retry = false;
    if (a->mode == MM_USER_MODE && !(pte & PTE_OWNER))
        return access_violation(m, a);
    if (a->kind == MM_ACCESS_WRITE && !mmi_pte_writable(pte)) {
        if (pte & PTE_COPY_ON_WRITE) {
            if (mmi_irql(m) >= MM_DISPATCH_LEVEL)
                return fault_at_raised_irql(m, a, pte);
            *retry = true;
            return copy_on_write(m, a, w);
        }
        if (user_va)
            return access_violation(m, a);
        return mmi_bugcheck(m, MM_BUGCHECK_ATTEMPTED_WRITE_TO_READONLY_MEMORY, a->va, pte, 0, 0, mmi_pte_pfn(pte),
                            a->va, "write to read-only system address %016llx", (unsigned long long)a->va);
    }
    if (a->kind == MM_ACCESS_EXECUTE && (pte & PTE_NO_EXECUTE)) {
        if (user_va)
            return access_violation(m, a);
        /* A valid translation that forbids execution: not a missing page. */
        return mmi_bugcheck(m, MM_BUGCHECK_ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY, a->va, pte, 0, 0, mmi_pte_pfn(pte),
                            a->va, "execution of %016llx, whose PTE %016llx is valid but no-execute",
                            (unsigned long long)a->va, (unsigned long long)pte);
    }
    if (a->kind == MM_ACCESS_WRITE && !(pte & PTE_DIRTY))
        mmi_pte_set(m, w->table[3], mmi_va_index(a->va, 3), MM_PAGE_ALIGN(a->va), pte | PTE_DIRTY);
    if ((pte & MMI_PTE_MDL_MAPPING) && user_va && a->process && m->mdl_user_access)
        m->mdl_user_access(m, a->va, mmi_pte_pfn(pte), a->process->id);
    return MM_STATUS_SUCCESS;
}

/* Kernel reads and writes of resident pages hit the TLB; user-mode and
 * execute accesses, and MDL user mappings (watched for staleness), always
 * walk. */
static bool tlb_lookup(mm_machine *m, const struct access *a, mm_pfn top, mm_pfn *pfn)
{
    if (a->mode != MM_KERNEL_MODE || a->kind == MM_ACCESS_EXECUTE)
        return false;
    *pfn = mmi_tlb_lookup(m, a->va, top, a->kind == MM_ACCESS_WRITE);
    return *pfn != MM_PFN_NONE;
}

static void tlb_fill(mm_machine *m, const struct access *a, mm_pfn top, uint64_t pte)
{
    if (a->mode != MM_KERNEL_MODE || ((pte & MMI_PTE_MDL_MAPPING) && mmi_is_user_va(m, a->va)))
        return;
    mmi_tlb_fill(m, a->va, top, pte);
}

/* Resolves one page of an access to its frame. */
static mm_status translate(mm_machine *m, const struct access *a, mm_pfn *pfn)
{
    if (!mmi_is_canonical(a->va)) {
        if (a->mode == MM_USER_MODE)
            return access_violation(m, a);
        return mmi_bugcheck(m, MM_BUGCHECK_PAGE_FAULT_IN_NONPAGED_AREA, a->va, mmi_fault_access_code(a->kind), a->ip, 4,
                            MM_PFN_NONE, 0, "%016llx is not a canonical address", (unsigned long long)a->va);
    }
    if (a->mode == MM_USER_MODE && !mmi_is_user_va(m, a->va))
        return access_violation(m, a);
    if (mmi_is_user_va(m, a->va) && !a->process)
        return access_violation(m, a);
    mm_pfn top = mmi_top_for(m, a->process, a->va);
    if (tlb_lookup(m, a, top, pfn))
        return MM_STATUS_SUCCESS;
    for (int attempt = 0; attempt < 4; attempt++) {
        struct mmi_walk w;
        mmi_walk(m, top, a->va, &w);
        if (mmi_walk_valid(&w)) {
            bool retry;
            mm_status st = check_valid(m, a, &w, &retry);
            if (!MM_SUCCESS(st) || retry) {
                if (!MM_SUCCESS(st))
                    return st;
                continue;
            }
            *pfn = mmi_pte_pfn(w.entry[3]);
            tlb_fill(m, a, top, mmi_pte_get(m, w.table[3], mmi_va_index(a->va, 3)));
            return MM_STATUS_SUCCESS;
        }
        mm_status st = page_fault(m, a, &w);
        if (st != MM_STATUS_SUCCESS)
            return st;
    }
    return MM_STATUS_UNSUCCESSFUL;
}

/* Does pfn hold page tables or prototype PTEs (writes to it are watched)? */
static bool structure_frame(mm_machine *m, mm_pfn pfn)
{
    if (!mmi_pfn_is_ram(m, pfn) || pfn >= m->pfn.untouched)
        return false;
    const struct mmi_pfn *e = mmi_pfn(m, pfn);
    return (mmi_pfn_location(e) == MM_ACTIVE_AND_VALID && mmi_pfn_use(e) == MM_USE_PAGE_TABLE) ||
           mmi_pfn_has(e, MMI_PF_PROTOTYPES);
}

mm_status mmi_check_structure_write(mm_machine *m, mm_pfn pfn, uint32_t offset, const void *buf, size_t len,
                                    const char *who)
{
    if (!len || !structure_frame(m, pfn))
        return MM_STATUS_SUCCESS;
    struct mmi_pfn *e = mmi_pfn(m, pfn);
    bool table = mmi_pfn_location(e) == MM_ACTIVE_AND_VALID && mmi_pfn_use(e) == MM_USE_PAGE_TABLE;
    const uint64_t *q = mmi_frame_quads(m, pfn);
    for (unsigned i = offset / 8; i <= (offset + len - 1) / 8; i++) {
        uint64_t now = q[i]; /* the entry as the write leaves it */
        size_t from = i * 8 < offset ? offset - i * 8 : 0;
        size_t to = (i + 1) * 8 > offset + len ? offset + len - i * 8 : 8;
        memcpy((unsigned char *)&now + from, (const unsigned char *)buf + (i * 8 + from - offset), to - from);
        if (now == q[i])
            continue;
        /* The page is visible at the VA its own PTE maps (for a page table,
         * its place in the self-map). */
        mm_va at = mmi_va_from_pte_address(e->pte_address) + i * 8;
        return mmi_bugcheck(m, MM_BUGCHECK_MEMORY_MANAGEMENT, 0x41792, at, now & 0xFFFFFFFF, now >> 32, pfn,
                            at, "%s overwrote %s entry %u of PFN 0x%llx with %016llx (was %016llx): the memory "
                            "manager finds a corrupted PTE the next time it reads it", who,
                            table ? "page-table" : "prototype PTE", i, (unsigned long long)pfn,
                            (unsigned long long)now, (unsigned long long)q[i]);
    }
    return MM_STATUS_SUCCESS;
}

/* The common case without the full translation: the model's own kernel
 * read or write inside one system-space page (an MDL header, a pool header)
 * whose translation the TLB holds. */
void *mmi_kernel_bytes(mm_machine *m, mm_va va, size_t len, bool write)
{
    unsigned char *bytes = mmi_tlb_recent_bytes(&m->tlb, va, len);
    if (bytes)
        return bytes;
    if (!mmi_is_system_va(m, va) || mmi_va_index(va, 0) == MM_PXE_SELFMAP_INDEX ||
        MM_BYTE_OFFSET(va) + len > MM_PAGE_SIZE)
        return NULL;
    mm_pfn pfn = mmi_tlb_lookup(m, va, m->system->pml4, write);
    if (pfn == MM_PFN_NONE || !mmi_pfn_is_ram(m, pfn) || (write && structure_frame(m, pfn)))
        return NULL; /* a write to a watched frame takes the checked way */
    if (!write)
        return (unsigned char *)(uintptr_t)mmi_frame_quads(m, pfn) + MM_BYTE_OFFSET(va);
    /* Written: the frame holds contents from now on, and the next access
     * to this page while its translation holds takes the bytes at once. */
    bytes = (unsigned char *)mmi_frame_quads_for_write(m, pfn);
    const struct mmi_tlb_entry *e = mmi_tlb_entry_of(&m->tlb, MM_PAGE_ALIGN(va));
    if (e)
        m->tlb.recent = (struct mmi_tlb_recent){MM_PAGE_ALIGN(va), bytes, e, e->stamp};
    return bytes + MM_BYTE_OFFSET(va);
}

/* A driver's writes take the long way, past the page-table write check. */
static bool access_in_tlb(mm_machine *m, const struct mm_access_request *req, bool from_driver)
{
    bool write = req->kind == MM_ACCESS_WRITE;
    if (req->mode != MM_KERNEL_MODE || req->kind == MM_ACCESS_EXECUTE || !req->buffer || (write && from_driver))
        return false;
    unsigned char *bytes = mmi_kernel_bytes(m, req->va, req->length, write);
    if (!bytes)
        return false;
    if (write)
        memcpy(bytes, req->buffer, req->length);
    else
        memcpy(req->buffer, bytes, req->length);
    return true;
}

static mm_status access_pages(mm_machine *m, const struct mm_access_request *req, bool from_driver)
{
    if (access_in_tlb(m, req, from_driver))
        return MM_STATUS_SUCCESS;
    struct access a = {.va = req->va, .kind = req->kind, .mode = req->mode, .ip = req->ip,
                       .process = mmi_cpu(m)->process};
    size_t done = 0;
    do {
        a.va = req->va + done;
        mm_pfn pfn = MM_PFN_NONE;
        mm_status st = translate(m, &a, &pfn);
        if (!MM_SUCCESS(st))
            return st;
        uint32_t offset = MM_BYTE_OFFSET(a.va);
        size_t n = MM_PAGE_SIZE - offset;
        if (n > req->length - done)
            n = req->length - done;
        if (req->buffer && n && mmi_pfn_is_ram(m, pfn)) {
            unsigned char *buf = (unsigned char *)req->buffer + done;
            if (req->kind == MM_ACCESS_WRITE && from_driver &&
                !MM_SUCCESS(st = mmi_check_structure_write(m, pfn, offset, buf, n, "a CPU write")))
                return st;
            if (req->kind == MM_ACCESS_WRITE)
                mmi_frame_write(m, pfn, offset, buf, n);
            else
                mmi_frame_read(m, pfn, offset, buf, n);
        } else if (req->buffer && n && req->kind == MM_ACCESS_READ) {
            memset((unsigned char *)req->buffer + done, 0xFF, n); /* device memory: the bus reads all ones */
        }
        done += n;
    } while (done < req->length);
    return MM_STATUS_SUCCESS;
}

mm_status mmi_access(mm_machine *m, const struct mm_access_request *req) { return access_pages(m, req, false); }

mm_status mmi_access_for_driver(mm_machine *m, const struct mm_access_request *req)
{
    return access_pages(m, req, true);
}

#define HOST_FAULT_AROUND 16u

mm_status mmi_host_access(mm_machine *m, mm_va va, mm_access kind, mm_va ip)
{
    struct access a = {.va = va, .kind = kind, .mode = MM_KERNEL_MODE, .ip = ip, .process = mmi_cpu(m)->process};
    mm_pfn pfn = MM_PFN_NONE;
    mm_status st = translate(m, &a, &pfn);
    if (!MM_SUCCESS(st))
        return st;
    /* The walk found a valid translation with the rights asked for (a write
     * has set the dirty bit): cache it, which maps it for the host. A page
     * mapped clean is mapped read-only, so its first write comes back here. */
    mm_pfn top = mmi_top_for(m, a.process, va);
    struct mmi_walk w;
    mmi_walk(m, top, va, &w);
    if (!mmi_walk_valid(&w))
        return MM_STATUS_UNSUCCESSFUL;
    /* Fault-around: the resident pages that follow in the same page table
     * are mapped with it (code walks buffers forward), so a run of frames
     * costs one host mapping and one fault, not one of each per page. */
    uint64_t ptes[HOST_FAULT_AROUND] = {w.entry[3]};
    unsigned n = 1, index = mmi_va_index(va, 3);
    while (n < HOST_FAULT_AROUND && index + n < 512) {
        uint64_t next = mmi_pte_get(m, w.table[3], index + n);
        if (!mmi_pte_valid(next) || ((next & MMI_PTE_MDL_MAPPING) && mmi_is_user_va(m, va)))
            break; /* an MDL's user mapping is watched page by page (staleness) */
        ptes[n++] = next;
    }
    mmi_tlb_fill_run(m, va, top, ptes, n);
    return MM_STATUS_SUCCESS;
}

mm_status mm_access_memory(mm_machine *m, const struct mm_access_request *req)
{
    MMI_ENTER(m, "CpuAccess");
    if (!req || req->kind > MM_ACCESS_EXECUTE || req->mode > MM_USER_MODE)
        return MM_STATUS_INVALID_PARAMETER;
    if (req->length > UINT64_MAX - req->va)
        return MM_STATUS_INVALID_PARAMETER;
    return access_pages(m, req, true);
}

mm_status mm_read(mm_machine *m, mm_va va, void *buffer, size_t length)
{
    struct mm_access_request req = {.va = va, .buffer = buffer, .length = length, .kind = MM_ACCESS_READ};
    if (!buffer && length)
        return MM_STATUS_INVALID_PARAMETER;
    return mm_access_memory(m, &req);
}

mm_status mm_write(mm_machine *m, mm_va va, const void *buffer, size_t length)
{
    struct mm_access_request req = {.va = va, .buffer = (void *)(uintptr_t)buffer, .length = length,
                                    .kind = MM_ACCESS_WRITE};
    if (!buffer && length)
        return MM_STATUS_INVALID_PARAMETER;
    return mm_access_memory(m, &req);
}

uint64_t mmi_resident_run(mm_machine *m, mm_va va, uint64_t pages, bool write, mm_pfn *pfns)
{
    struct mm_process *p = mmi_cpu(m)->process;
    bool user_va = mmi_is_user_va(m, va);
    if (m->tlb.host || (user_va && !p))
        return 0;
    mm_pfn cached = pages == 1 && mmi_is_canonical(va) ? mmi_tlb_lookup(m, va, mmi_top_for(m, p, va), write)
                                                        : MM_PFN_NONE;
    if (cached != MM_PFN_NONE) { /* one page the TLB holds: no walk */
        if (pfns)
            pfns[0] = cached;
        return 1;
    }
    /* A touch that changes nothing: no fault, no dirty bit to set, and no
     * MDL user mapping (the staleness check watches every access through
     * one): the bits in `need` set, those in `forbid` clear. */
    uint64_t need = PTE_VALID | (write ? PTE_WRITE | PTE_DIRTY : 0);
    uint64_t forbid = user_va ? MMI_PTE_MDL_MAPPING : 0;
    for (uint64_t i = 0; i < pages;) {
        mm_va page = va + i * MM_PAGE_SIZE;
        if (!mmi_is_canonical(page) || mmi_is_user_va(m, page) != user_va)
            return i;
        mm_pfn top = mmi_top_for(m, p, page);
        mm_pfn table = mmi_leaf_table(m, top, page);
        if (table == MM_PFN_NONE)
            return i;
        unsigned index = mmi_va_index(page, 3);
        const uint64_t *ptes = mmi_frame_quads(m, table) + index;
        uint64_t n = 512 - index < pages - i ? 512 - index : pages - i;
        for (uint64_t k = 0; k < n; k++, i++) {
            if ((ptes[k] & (need | forbid)) != need)
                return i;
            if (pfns)
                pfns[i] = mmi_pte_pfn(ptes[k]);
        }
        if (pages == 1) /* the probe's touch of one page leaves its translation cached */
            mmi_tlb_fill(m, page, top, ptes[0]);
    }
    return pages;
}

bool mmi_is_address_valid(mm_machine *m, mm_va va)
{
    if (!mmi_is_canonical(va))
        return false;
    struct mm_process *p = mmi_cpu(m)->process;
    if (mmi_is_user_va(m, va) && !p)
        return false;
    struct mmi_walk w;
    mmi_walk(m, mmi_top_for(m, p, va), va, &w);
    return mmi_walk_valid(&w);
}
