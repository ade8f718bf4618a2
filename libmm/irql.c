/* libmm/irql.c — the simulated CPUs and their IRQL: KeRaiseIrql and
 * KeLowerIrql (with Force IRQL Checking's trim at every raise to
 * DISPATCH_LEVEL), and the IRQL rules of the DDIs. */
#include "irql.h"

#include "bugcheck.h"
#include "machine.h"
#include "paging.h"
#include "tlb.h"

uint32_t mm_cpu_count(const mm_machine *m) { return m ? m->cpu_count : 0; }
uint32_t mm_cpu_current(const mm_machine *m) { return m ? m->current_cpu : 0; }

mm_status mm_cpu_set_current(mm_machine *m, uint32_t cpu)
{
    MMI_ENTER(m, "mm_cpu_set_current");
    if (cpu >= m->cpu_count)
        return MM_STATUS_INVALID_PARAMETER;
    if (m->cpu[cpu].process != mmi_cpu(m)->process)
        mmi_tlb_flush_user(m); /* one TLB for all CPUs: the next one's user space differs */
    m->current_cpu = cpu;
    return MM_STATUS_SUCCESS;
}

mm_irql mm_irql_current(const mm_machine *m) { return m ? mmi_irql(m) : 0; }

/* The slow half of mmi_irql_allows: the bug check; always false. */
bool mmi_irql_too_high(mm_machine *m, mm_irql max, mm_va address)
{
    mm_irql irql = mmi_irql(m);
    mmi_bugcheck(m, MM_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL, address, irql, 0, 0, MM_PFN_NONE, 0,
                 "%s may be called at IRQL <= %u but was called at IRQL %u; its pageable code faults",
                 m->op, max, irql);
    return false;
}

bool mmi_irql_apc_lte(mm_machine *m)
{
    mm_irql irql = mmi_irql(m);
    if ((m->cfg.verifier_flags & MM_VERIFIER_DDI_COMPLIANCE) && irql > MM_APC_LEVEL) {
        mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x20019, 0, 0, 0, MM_PFN_NONE, 0,
                     "%s at IRQL %u breaks the DDI rule IrqlMmApcLte", m->op, irql);
        return false;
    }
    return mmi_irql_allows(m, MM_APC_LEVEL, 0);
}

mm_status mm_irql_raise(mm_machine *m, mm_irql new_irql, mm_irql *old_irql)
{
    MMI_ENTER(m, "KeRaiseIrql");
    struct mmi_cpu *cpu = mmi_cpu(m);
    /* Verifier's automatic checks: 0xC4/0x30 (IRQL, requested IRQL, 0). */
    if (mmi_verifier(m) && (new_irql > MM_HIGH_LEVEL || new_irql < cpu->irql))
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x30, cpu->irql, new_irql, 0,
                            MM_PFN_NONE, 0, "KeRaiseIrql to %u while at %u: %s", new_irql, cpu->irql,
                            new_irql > MM_HIGH_LEVEL ? "above HIGH_LEVEL" : "raising must not lower the IRQL");
    if (new_irql > MM_HIGH_LEVEL)
        return MM_STATUS_INVALID_PARAMETER;
    if (new_irql < cpu->irql)
        return mmi_bugcheck(m, MM_BUGCHECK_IRQL_NOT_GREATER_OR_EQUAL, cpu->irql, new_irql, 0, 0, MM_PFN_NONE, 0,
                            "KeRaiseIrql to %u while at %u: raising must not lower the IRQL", new_irql,
                            cpu->irql);
    if (old_irql)
        *old_irql = cpu->irql;
    mmi_trace(m, MM_EV_IRQL, 0, MM_PFN_NONE, cpu->irql, new_irql);
    bool crossing = cpu->irql < MM_DISPATCH_LEVEL && new_irql >= MM_DISPATCH_LEVEL;
    cpu->irql = new_irql;
    /* Force IRQL Checking: every raise to DISPATCH trims all pageable
     * system memory, so a latent touch of paged memory faults at once. */
    if (crossing && (m->cfg.verifier_flags & MM_VERIFIER_FORCE_IRQL_CHECKING))
        mmi_trim_working_set(m, m->system_ws, UINT64_MAX);
    return MM_STATUS_SUCCESS;
}

mm_status mm_irql_lower(mm_machine *m, mm_irql new_irql)
{
    MMI_ENTER(m, "KeLowerIrql");
    struct mmi_cpu *cpu = mmi_cpu(m);
    /* Verifier's automatic checks: 0xC4/0x31 (IRQL, requested IRQL, 0: the
     * new IRQL is bad; mmsim has no DPC routines for the 1 case). */
    if (mmi_verifier(m) && (new_irql > MM_HIGH_LEVEL || new_irql > cpu->irql))
        return mmi_bugcheck(m, MM_BUGCHECK_DRIVER_VERIFIER_DETECTED_VIOLATION, 0x31, cpu->irql, new_irql, 0,
                            MM_PFN_NONE, 0, "KeLowerIrql to %u while at %u: %s", new_irql, cpu->irql,
                            new_irql > MM_HIGH_LEVEL ? "above HIGH_LEVEL" : "lowering must not raise the IRQL");
    if (new_irql > MM_HIGH_LEVEL)
        return MM_STATUS_INVALID_PARAMETER;
    if (new_irql > cpu->irql)
        return mmi_bugcheck(m, MM_BUGCHECK_IRQL_NOT_LESS_OR_EQUAL, 0, cpu->irql, 0, 0, MM_PFN_NONE, 0,
                            "KeLowerIrql to %u while at %u: lowering must not raise the IRQL", new_irql,
                            cpu->irql);
    mmi_trace(m, MM_EV_IRQL, 0, MM_PFN_NONE, cpu->irql, new_irql);
    cpu->irql = new_irql;
    return MM_STATUS_SUCCESS;
}
