/* examples/driver-test/driver.c — a driver-style routine with the classic
 * bug: it unlocks its buffer, then its completion path unlocks it again. */
#include "driver.h"

mm_status read_into_user_buffer(mm_machine *m, mm_va user_buffer, uint32_t length, bool completion_runs_twice)
{
    mm_va mdl = mm_io_allocate_mdl(m, user_buffer, length, false, false, 0);
    if (!mdl)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    mm_status st = mm_probe_and_lock_pages(m, mdl, MM_USER_MODE, MM_IO_WRITE_ACCESS);
    if (st != MM_STATUS_SUCCESS) {
        mm_io_free_mdl(m, mdl);
        return st;
    }
    mm_va system = mm_get_system_address_for_mdl_safe(m, mdl, MM_NORMAL_PAGE_PRIORITY);
    if (!system)
        return MM_STATUS_INSUFFICIENT_RESOURCES;
    st = mm_write(m, system, "hello from the driver", 22);
    mm_unlock_pages(m, mdl);          /* also unmaps the system mapping */
    if (completion_runs_twice)
        mm_unlock_pages(m, mdl);      /* the bug: a second unlock */
    mm_io_free_mdl(m, mdl);
    return st;
}
