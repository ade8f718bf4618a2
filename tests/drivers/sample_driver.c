/* tests/drivers/sample_driver.c — a driver built as a shared object for
 * tests/test_driverimage.c: resident code and data, a pageable PAGE
 * function and pageable PAGEDATA, and INIT code discarded after DriverEntry.
 * Sections are named the way docs/hosted.md describes for gcc and clang. */
#include <stdint.h>

#define SAMPLE_INIT __attribute__((section("INIT"), noinline))
#define SAMPLE_PAGE __attribute__((section("PAGE"), noinline))
#define SAMPLE_PAGEDATA __attribute__((section("PAGEDATA")))

int sample_driver_entry(int x);
int sample_paged(int x);
int sample_resident(int x);
int sample_read_global(unsigned i);
void *sample_entry_address(void);
int sample_paged_data_read(void);

/* A global a test describes with an MDL, 3 pages on a page boundary. */
__attribute__((aligned(4096))) unsigned char sample_buffer[3 * 4096];
int sample_initialised;
SAMPLE_PAGEDATA int sample_paged_data = 0x5A5A;

SAMPLE_INIT int sample_driver_entry(int x)
{
    sample_initialised = x;
    return x + 1;
}

SAMPLE_PAGE int sample_paged(int x) { return x * 2 + sample_initialised; }

int sample_resident(int x) { return x - 1; }

int sample_read_global(unsigned i) { return sample_buffer[i % sizeof sample_buffer]; }

void *sample_entry_address(void) { return (void *)(uintptr_t)sample_driver_entry; }

int sample_paged_data_read(void) { return *(volatile int *)&sample_paged_data; }
