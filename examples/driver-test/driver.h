/* examples/driver-test/driver.h — the routine under test. */
#ifndef DRIVER_H
#define DRIVER_H

#include <mm/mm.h>

mm_status read_into_user_buffer(mm_machine *m, mm_va user_buffer, uint32_t length, bool completion_runs_twice);

#endif
